"""GET /go: one self-contained page, locked down by its headers, with registry texts escaped."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from bot.form.page import SCRIPT_PARTS, WEB_DIR, form_script
from inference.tasks import TASKS, get_task
from tests.bot.form.conftest import HOSTILE, make_request, page_data_of


class Tags(HTMLParser):
    """Collects every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def test_the_page_is_html_with_security_headers(call):
    response = call(make_request("GET"))

    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    policy = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy


def test_inline_script_and_style_carry_the_responses_nonce(call):
    response = call(make_request("GET"))
    policy = response.headers["Content-Security-Policy"]
    (nonce,) = set(re.findall(r"'nonce-([^']+)'", policy))
    assert f"script-src 'nonce-{nonce}'" in policy
    assert f"style-src 'nonce-{nonce}'" in policy

    tags = parse(response.body).tags
    runnable = [attrs for tag, attrs in tags if tag == "script" and attrs.get("type") != "application/json"]
    assert runnable and all(attrs.get("nonce") == nonce for attrs in runnable)
    styles = [attrs for tag, attrs in tags if tag == "style"]
    assert styles and all(attrs.get("nonce") == nonce for attrs in styles)
    assert not any("style" in attrs for _, attrs in tags), "inline style attributes would need 'unsafe-inline'"
    assert not any(name.startswith("on") for _, attrs in tags for name in attrs), "no inline event handlers"


def test_each_page_gets_a_fresh_nonce(call):
    first = call(make_request("GET")).headers["Content-Security-Policy"]
    second = call(make_request("GET")).headers["Content-Security-Policy"]

    assert first != second


def test_nothing_is_loaded_from_elsewhere(call):
    tags = parse(call(make_request("GET")).body).tags

    for _, attrs in tags:
        for name in ("src", "href", "action"):
            value = attrs.get(name)
            assert value is None or value.startswith(("#", "data:")), (name, value)


def test_registry_markup_is_escaped_in_html_and_json(call):
    html = call(make_request("GET")).body

    assert "<script>alert" not in html
    assert "</script><!--" not in html
    assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;" in html
    hostile = next(m for m in page_data_of(html)["models"] if m["name"] == "hostile")
    assert hostile["title"] == hostile["description"] == hostile["example"] == HOSTILE


def test_the_page_describes_every_model_with_its_task_input_format(call, registry):
    data = page_data_of(call(make_request("GET")).body)

    assert data["locked"] is False
    assert [m["name"] for m in data["models"]] == registry.names
    for model, spec in zip(data["models"], registry, strict=True):
        assert model["title"] == spec.title
        assert model["example"] == spec.example
        assert model["input_format"] == get_task(spec.task).input_format
        assert model["max_chars"] == spec.max_chars


def test_the_assets_cannot_break_out_of_their_inline_blocks():
    script = form_script()
    style = (WEB_DIR / "form.css").read_text(encoding="utf-8")

    assert "</script" not in script.lower()
    assert "</style" not in style.lower()


def test_the_script_never_parses_html_strings():
    script = form_script()

    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink
    assert "location.pathname" in script, "posts go to the page's own path, stage prefix included"


def test_the_script_is_every_part_joined_into_one_strict_closure(call):
    """Each file in web/form/ is a part the page serves (none forgotten), inside one strict-mode closure."""
    assert sorted(path.name for path in (WEB_DIR / "form").iterdir()) == sorted(SCRIPT_PARTS)
    script = form_script()
    assert script.startswith('"use strict";\n(() => {\n') and script.endswith("})();\n")
    for name in SCRIPT_PARTS:
        assert (WEB_DIR / "form" / name).read_text(encoding="utf-8") in script
    assert script in call(make_request("GET")).body


#: An entry of the form's renderer table, as renderers.js writes it: one per line, its key quoted.
RENDERER_ENTRY = re.compile(r'^  "(?P<task>[^"]+)": ')


def form_renderers() -> list[str]:
    """The task names the form's renderer table (``const renderers = {`` in renderers.js) has an entry for.

    The table's own lines (indented by two spaces) are each an entry's first line or a closing bracket of
    one; anything else there means the table is written in a way this reader cannot trust.
    """
    lines = (WEB_DIR / "form" / "renderers.js").read_text(encoding="utf-8").splitlines()
    start = lines.index("const renderers = {") + 1
    end = lines.index("};", start)
    tasks = []
    for line in lines[start:end]:
        if line.startswith("  ") and not line.startswith("   "):
            entry = RENDERER_ENTRY.match(line)
            assert entry or line.strip()[0] in ")]}", f'renderers.js: write each entry as `  "task": ...`: {line!r}'
            tasks += [entry["task"]] if entry else []
    return tasks


def test_every_task_has_a_form_renderer_and_every_renderer_a_task():
    """A task added to inference/tasks.py without a renderer in web/form/renderers.js would show raw JSON."""
    tasks = form_renderers()
    assert len(tasks) == len(set(tasks)), "a task with two renderers"
    assert set(tasks) == set(TASKS), (
        f"no form renderer for {sorted(set(TASKS) - set(tasks))}; a renderer for no task: {sorted(set(tasks) - set(TASKS))}"
    )
