"""``python -m infra [-c key=value ...]``: synthesize the app, then list any findings.

Exits with 1 when the synthesis reports an error or a warning (cdk-nag's
findings are either), so a script or CI job can rely on the exit code.
"""

from __future__ import annotations

import argparse
import os
import sys

# jsii prints a banner for a Node.js release it no longer supports; the app runs the same.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def _context(pairs: list[str]) -> dict[str, str]:
    context = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--context expects KEY=VALUE, got {pair!r}")
        context[key] = value
    return context


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra", description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE", help="a context value")
    args = parser.parse_args(argv)

    from infra.app import build_app, findings  # after the environment is set: this starts jsii

    app, _ = build_app(context=_context(args.context))
    assembly = app.synth()
    problems = findings(assembly)
    for line in problems:
        print(line, file=sys.stderr)
    print(f"Synthesized into {assembly.directory} ({len(problems)} findings).", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
