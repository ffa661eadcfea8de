"""The /go page as one self-contained HTML document, and the headers that lock it down.

The markup, style and script live in ``bot/form/web/`` and are inlined into every
page, so the browser needs one request and the Content-Security-Policy can
allow exactly those inline blocks by a per-response nonce. The only values
put into the HTML are escaped registry texts and a JSON block with ``<``,
``>`` and ``&`` escaped (``bot.core.http.json_for_html``); people's text never reaches the HTML at all (the
script renders answers with DOM text nodes).

The script is written in parts by concern (``web/form/*.js``: DOM helpers,
requests, the renderer of each task, the answer card, feedback, compare mode,
chat mode, the file upload, the page itself) and joined here, in :data:`SCRIPT_PARTS` order, into one
strict-mode closure; there is no build step. Like the other assets it is read
once per process. The page itself is never cached (``Cache-Control: no-store``):
each one carries a fresh nonce.
"""

from __future__ import annotations

import functools
import html
import secrets
from pathlib import Path
from string import Template
from typing import Any

from bot.core.compare import MAX_MODELS
from bot.core.http import SECURITY_HEADERS, json_for_html
from bot.form.feedback import MAX_COMMENT_CHARS
from inference.media import MAX_BYTES
from inference.registry import Registry
from inference.tasks import get_task, reads_text

WEB_DIR = Path(__file__).with_name("web")
#: The parts of the page's script, in ``web/form/``, in the order they are joined: each part's top-level
#: names are seen by the others, and the last part (``main.js``) runs the page.
SCRIPT_PARTS = (
    "dom.js",
    "requests.js",
    "renderers.js",
    "answer.js",
    "feedback.js",
    "compare.js",
    "chat.js",
    "upload.js",
    "main.js",
)


@functools.cache
def _asset(name: str) -> str:
    return (WEB_DIR / name).read_text(encoding="utf-8")


@functools.cache
def form_script() -> str:
    """The page's script: its parts joined into one function body, in strict mode, that leaves no global behind."""
    parts = "\n".join(f"// ---- {name}\n{_asset(f'form/{name}')}" for name in SCRIPT_PARTS)
    return f'"use strict";\n(() => {{\n{parts}}})();\n'


def new_nonce() -> str:
    """A fresh CSP nonce (128 bits or more, URL-safe), one per page."""
    return secrets.token_urlsafe(18)


def content_security_policy(nonce: str) -> str:
    """Only the page's own nonce-tagged script and style run; fetches go to this origin only."""
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src 'nonce-{nonce}'",
            f"style-src 'nonce-{nonce}'",
            "connect-src 'self'",
            # A chosen file's preview, and the image an object detector's boxes are drawn on: object URLs.
            "img-src data: blob:",
            "media-src blob:",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
            "trusted-types 'none'",
        )
    )


def page_headers(nonce: str) -> dict[str, str]:
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": content_security_policy(nonce),
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        **SECURITY_HEADERS,
    }


def model_catalog(registry: Registry) -> list[dict[str, Any]]:
    """What the page shows for each registry entry, in registry order."""
    catalog = []
    for spec in registry:
        task = get_task(spec.task)
        catalog.append(
            {
                "name": spec.name,
                "title": spec.title,
                "description": spec.description,
                "example": spec.example,
                "task": spec.task,
                "task_summary": task.summary,
                "input_format": task.input_format,
                "max_chars": spec.max_chars,
                "media": task.media,
                "reads_text": reads_text(spec.task),
            }
        )
    return catalog


def _options(catalog: list[dict[str, Any]]) -> str:
    return "\n".join(
        f'          <option value="{html.escape(m["name"])}">{html.escape(m["title"])}</option>' for m in catalog
    )


def render_page(
    *,
    catalog: list[dict[str, Any]],
    locked: bool,
    nonce: str,
    uploads: dict[str, int] | None = None,
    upload_note: str = "",
) -> str:
    """The whole page; ``locked`` shows only the passcode panel and carries no model data.

    ``uploads`` is the largest file of each kind the form takes here (:func:`bot.form.limits.upload_caps`;
    the kinds' own caps by default), which the page checks before sending one, adding ``upload_note``
    (where larger files can go) to its refusal.
    """
    shown = [] if locked else catalog
    return Template(_asset("form.html")).substitute(
        nonce=html.escape(nonce),
        style=_asset("form.css"),
        script=form_script(),
        options=_options(shown),
        data=json_for_html(
            {
                "locked": locked,
                "models": shown,
                "max_compare": MAX_MODELS,
                "max_comment_chars": MAX_COMMENT_CHARS,
                "uploads": dict(MAX_BYTES) if uploads is None else uploads,
                "upload_note": upload_note,
            }
        ),
        login_hidden="" if locked else " hidden",
        tool_hidden=" hidden" if locked else "",
    )
