"""``python -m bot``: serve locally, print the Slack manifest, or call a running server.

A command that fails prints one ``error: ...`` line saying what to do (:mod:`bot.cli_errors`)
and exits 1, or 2 for a wrong command line; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
import urllib.error
import urllib.request
from email.message import Message
from typing import Any

from bot.cli_errors import InvalidUrl, NotJson, ServerHungUp, ServerUnreachable, report
from bot.core.config import form_passcode
from bot.core.http import cookies_to_send_back
from inference.cli import interrupted, program

DEFAULT_URL = "http://127.0.0.1:3000"
#: How long ``invoke`` keeps retrying a model that is still warming up.
INVOKE_PATIENCE_SECONDS = 300


def _reason(error: BaseException | str) -> str:
    """``Connection refused``, not ``[Errno 111] Connection refused``."""
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _json(server: str, status: int, headers: Message, payload: bytes) -> dict[str, Any]:
    """The body of an answer from the server, which always answers with a JSON object."""
    try:
        body = json.loads(payload or b"{}")
    except ValueError:  # not JSON, or not even UTF-8
        body = None
    if not isinstance(body, dict):
        raise NotJson(server, status, headers.get("Content-Type", ""))
    return body


def _post(server: str, path: str, body: dict[str, Any], cookie: str = "") -> tuple[int, dict[str, Any], str]:
    """POST ``body`` as JSON to the server: the answer's status, JSON body and ``Set-Cookie``.

    Raises:
        ServerUnreachable, ServerHungUp, NotJson: for :mod:`bot.cli_errors` to word.
    """
    request = urllib.request.Request(  # noqa: S310 (scheme checked in invoke)
        server + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Cookie": cookie},
    )
    try:
        try:
            # The URL the person typed, checked to be http(s) in invoke().
            response = urllib.request.urlopen(request, timeout=60)  # noqa: S310  # nosec B310
        except urllib.error.HTTPError as error:
            response = error  # an error status is an answer too, with headers and a body
        with response:
            status, headers, payload = response.status, response.headers, response.read()
    except urllib.error.URLError as exc:
        raise ServerUnreachable(server, _reason(exc.reason)) from exc
    except (http.client.HTTPException, OSError) as exc:  # closed or reset mid-answer, or too slow
        raise ServerHungUp(server, _reason(exc)) from exc
    return status, _json(server, status, headers, payload), headers.get("Set-Cookie", "")


def invoke(url: str, model: str, text: str) -> int:
    """Call the form's JSON endpoint as the page does; print the answer, exit 1 if it is an error."""
    if not url.startswith(("http://", "https://")):
        raise InvalidUrl(url)
    server = url.rstrip("/")
    cookie = ""
    passcode = form_passcode()
    if passcode:
        _, _, set_cookie = _post(server, "/go/login", {"passcode": passcode})
        cookie = cookies_to_send_back([set_cookie])
    deadline = time.monotonic() + INVOKE_PATIENCE_SECONDS
    while True:
        status, body, _ = _post(server, "/go", {"model": model, "text": text}, cookie)
        if status != 202 or time.monotonic() > deadline:
            break
        print(body.get("message", "warming up…"), file=sys.stderr)
        time.sleep(float(body.get("retry_after", 3)))
    print(json.dumps(body, indent=2, ensure_ascii=False))
    return 0 if status == 200 else 1


def _port(text: str) -> int:
    """``--port``: 0 (any free port) to 65535."""
    if not (text.isascii() and text.isdigit() and int(text) <= 65535):
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=program("bot"), description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the router, the form and the models on this machine")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=3000, help="0 picks a free port (default 3000)")
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
        # Each command imports only what it runs, so `invoke` and a mistyped command start at once.
        if args.command == "serve":
            from bot.local.server import serve as run

            run(args.host, args.port)
            return 0
        if args.command == "manifest":
            from bot.slack.manifest import PLACEHOLDER_URL, render_manifest
            from inference.registry import load_registry

            url = None if args.socket_mode else PLACEHOLDER_URL if args.url is None else args.url
            sys.stdout.write(render_manifest(load_registry(), url))
            return 0
        if args.command == "feedback":
            from bot.feedback_export import export_feedback

            return export_feedback(model=args.model, format=args.format, output=args.output)
        return invoke(args.url, args.model, args.text)
    except KeyboardInterrupt:
        return interrupted()
    except Exception as exc:
        return report(exc)


if __name__ == "__main__":
    sys.exit(main())
