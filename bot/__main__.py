"""``python -m bot``: serve locally, print the Slack manifest, or call a running server."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from inference.errors import RegistryError

DEFAULT_URL = "http://127.0.0.1:3000"
#: How long ``invoke`` keeps retrying a model that is still warming up.
INVOKE_PATIENCE_SECONDS = 300


def _post(url: str, body: dict[str, Any], cookie: str = "") -> tuple[int, dict[str, Any], str]:
    request = urllib.request.Request(  # noqa: S310 (scheme checked in invoke)
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Cookie": cookie},
    )
    try:
        # The URL the person typed, checked to be http(s) in invoke().
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310  # nosec B310
            return response.status, json.loads(response.read() or b"{}"), response.headers.get("Set-Cookie", "")
    except urllib.error.HTTPError as exc:
        payload = exc.read()
        try:
            return exc.code, json.loads(payload or b"{}"), ""
        except json.JSONDecodeError:
            return exc.code, {"error": {"type": "http_error", "message": payload.decode(errors="replace")}}, ""


def invoke(url: str, model: str, text: str) -> int:
    """Call the form's JSON endpoint as the page does; print the answer or the error."""
    if not url.startswith(("http://", "https://")):
        print(f"error: --url must start with http:// or https://, got {url!r}", file=sys.stderr)
        return 2
    base = url.rstrip("/") + "/go"
    cookie = ""
    passcode = os.environ.get("DEMO_PASSCODE", "")
    if passcode:
        status, body, set_cookie = _post(base + "/login", {"passcode": passcode})
        cookie = set_cookie.split(";", 1)[0]
    deadline = time.monotonic() + INVOKE_PATIENCE_SECONDS
    while True:
        status, body, _ = _post(base, {"model": model, "text": text}, cookie)
        if status != 202 or time.monotonic() > deadline:
            break
        print(body.get("message", "warming up…"), file=sys.stderr)
        time.sleep(float(body.get("retry_after", 3)))
    print(json.dumps(body, indent=2, ensure_ascii=False))
    return 0 if status == 200 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the router, the form and the models on this machine")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    manifest = commands.add_parser("manifest", help="print the Slack app manifest for the registry")
    manifest_for = manifest.add_mutually_exclusive_group()
    manifest_for.add_argument("--url", default=None, help="the API's https:// base URL (the stack's ApiUrl output)")
    manifest_for.add_argument(
        "--socket-mode", action="store_true", help="no request URLs, for `serve` with SLACK_APP_TOKEN (see the README)"
    )
    call = commands.add_parser("invoke", help="run a model through a running server, as the form does")
    call.add_argument("model")
    call.add_argument("text")
    call.add_argument("--url", default=DEFAULT_URL, help=f"the server's base URL (default {DEFAULT_URL})")
    feedback = commands.add_parser("feedback", help="work with stakeholders' votes and comments")
    feedback_commands = feedback.add_subparsers(dest="feedback_command", required=True)
    export = feedback_commands.add_parser("export", help="write every vote and comment, with its answer")
    export.add_argument("--model", default=None, help="only this model's answers")
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    export.add_argument("--output", "-o", default="-", help="a file to write (default: standard output)")
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            from bot.local.server import serve as run

            run(args.host, args.port)
            return 0
        if args.command == "manifest":
            from bot.manifest import PLACEHOLDER_URL, ManifestError, render_manifest
            from inference.registry import load_registry

            try:
                url = None if args.socket_mode else PLACEHOLDER_URL if args.url is None else args.url
                text = render_manifest(load_registry(), url)
            except ManifestError as exc:
                print(f"error: --url: {exc}", file=sys.stderr)
                return 2
            sys.stdout.write(text)
            return 0
        if args.command == "feedback":
            from bot.feedback_export import export_feedback

            return export_feedback(model=args.model, format=args.format, output=args.output)
        return invoke(args.url, args.model, args.text)
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
