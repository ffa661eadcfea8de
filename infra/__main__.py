"""``python -m infra [-c key=value ...]``: synthesize the app, then list any findings.

Exits with 1 when the synthesis reports an error or a warning (cdk-nag's
findings are either), and with 2 when the registry, a context value or the
router's dependencies are wrong, so a script or CI job can rely on the exit code.
"""

from __future__ import annotations

import argparse
import os
import sys

# jsii prints a banner for a Node.js release it no longer supports; the app runs the same.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

USAGE_ERROR = 2


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra", description=__doc__.splitlines()[0])
    parser.add_argument(
        "-c", "--context", action="append", default=[], type=_pair, metavar="KEY=VALUE", help="a context value"
    )
    args = parser.parse_args(argv)

    # After the environment is set: importing these starts jsii.
    from inference.errors import RegistryError
    from infra.app import build_app, findings
    from infra.bundling import BundlingError
    from infra.settings import SettingsError

    try:
        app, _ = build_app(context=dict(args.context))
    except (RegistryError, SettingsError, BundlingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    assembly = app.synth()
    problems = findings(assembly)
    for line in problems:
        print(line, file=sys.stderr)
    print(f"Synthesized into {assembly.directory} ({len(problems)} findings).", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
