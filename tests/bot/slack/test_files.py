"""A Slack message's file, downloaded safely: only from Slack's hosts, within the caps, refusals in words."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.core.services import Services
from bot.slack.files import (
    CANT_READ,
    FileProblem,
    SlackFile,
    download,
    fetch_file,
    file_origins,
    origin_of,
    pick_file,
    resolve,
)
from inference.errors import InputTooLong, InvalidInput
from inference.media import IMAGE, MAX_BYTES, PNG
from tests.bot.conftest import BOT_TOKEN
from tests.fakes.slack_api import FakeSlackApi

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(200)
API = "http://127.0.0.1:8765/api/"


class NeverOpened:
    """An opener that fails the test if a download is ever attempted through it."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a URL outside Slack's hosts was fetched")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://files.slack.com/files-pri/T1-F1/cat.png", True),
        ("https://files.slack.com:443/files-pri/T1-F1/cat.png", True),
        ("http://127.0.0.1:8765/files-pri/T1-F1/cat.png", True),  # the configured SLACK_API_URL's host
        ("https://evil.example/files-pri/T1-F1/cat.png", False),
        ("http://files.slack.com/files-pri/T1-F1/cat.png", False),  # another scheme
        ("https://files.slack.com:8443/files-pri/T1-F1/cat.png", False),  # another port
        ("http://127.0.0.1:8766/files-pri/T1-F1/cat.png", False),
        ("https://127.0.0.1:8765/files-pri/T1-F1/cat.png", False),
        ("https://files.slack.com@evil.example/cat.png", False),  # userinfo: the host is evil.example
        ("https://evil.example\\@files.slack.com/cat.png", False),
        ("https://files.slack.com.evil.example/cat.png", False),
        ("https://FILES.SLACK.COM/files-pri/T1-F1/cat.png", False),  # not as Slack writes it
        ("https://files.slack.com./files-pri/T1-F1/cat.png", False),
        ("https://fíles.slack.com/files-pri/T1-F1/cat.png", False),  # IDN
        ("https://xn--fles-3qa.slack.com/files-pri/T1-F1/cat.png", False),
        ("https://files-origin.slack.com/files-pri/T1-F1/cat.png", False),  # a redirect's hop, never a start
        ("files.slack.com/cat.png", False),
        ("", False),
    ],
)
def test_downloads_start_only_on_slacks_file_host_or_the_configured_api(url: str, allowed: bool) -> None:
    assert (origin_of(url) in file_origins(API)) is allowed
    if not allowed:
        with pytest.raises(FileProblem, match=CANT_READ):
            download(
                SlackFile("F1", url, 10, "cat.png"),
                token=BOT_TOKEN,
                origins=file_origins(API),
                kind=IMAGE,
                model="caption",
                opener=NeverOpened(),  # type: ignore[arg-type]
            )


def test_the_production_api_url_allows_slack_com_and_files_slack_com_only() -> None:
    assert file_origins("https://slack.com/api/") == {("https", "files.slack.com", 443), ("https", "slack.com", 443)}


@pytest.fixture
def elsewhere() -> Iterator[FakeSlackApi]:
    """Another server on loopback, at an origin the bot is not configured with: it must never be asked."""
    with FakeSlackApi(expect_token=BOT_TOKEN) as api:
        yield api


def test_a_file_on_another_host_is_never_fetched(
    services: Services, slack: FakeSlackApi, elsewhere: FakeSlackApi
) -> None:
    found = elsewhere.add_file(PNG_BYTES, name="cat.png", mimetype="image/png")
    with pytest.raises(FileProblem, match="not stored on Slack"):
        fetch_file(services, services.registry.get("caption"), found, request_id="r1")
    assert elsewhere.downloads() == [] and slack.downloads() == []


def test_a_file_is_downloaded_with_the_bot_token_and_stored_for_its_model(
    services: Services, slack: FakeSlackApi
) -> None:
    found = slack.add_file(PNG_BYTES, name="cat.png", mimetype="image/png")
    ref = fetch_file(services, services.registry.get("caption"), found, request_id="abc123")
    [asked] = slack.downloads()
    assert (asked.url, asked.authorization, asked.status) == (found["url_private_download"], f"Bearer {BOT_TOKEN}", 200)
    assert (ref.media_type, ref.name, ref.size) == (PNG, "cat.png", len(PNG_BYTES))
    assert services.media.get(ref.key, max_bytes=MAX_BYTES[IMAGE]) == PNG_BYTES


def test_a_stub_is_resolved_by_files_info(services: Services, slack: FakeSlackApi) -> None:
    found = slack.add_file(PNG_BYTES, name="cat.png", mimetype="image/png")
    stub = {"id": found["id"], "file_access": "check_file_info"}
    assert resolve(services, stub) == SlackFile(found["id"], found["url_private_download"], len(PNG_BYTES), "cat.png")
    [info] = slack.calls("files.info")
    assert info.params["file"] == found["id"]


@pytest.mark.parametrize(
    ("stub", "says"),
    [
        ({"id": "F0NOSUCH0", "file_access": "check_file_info"}, "does not exist"),
        ({"file_access": "check_file_info"}, "did not say which file"),
        ({"id": "../../etc", "file_access": "check_file_info"}, "did not say which file"),
    ],
)
def test_a_stub_slack_will_not_resolve_is_explained(services: Services, stub: dict, says: str) -> None:
    with pytest.raises(FileProblem, match=says):
        resolve(services, stub)


def test_a_file_too_large_by_its_stated_size_is_refused_before_any_download(
    services: Services, slack: FakeSlackApi
) -> None:
    found = {**slack.add_file(PNG_BYTES, name="big.png", mimetype="image/png"), "size": MAX_BYTES[IMAGE] + 1}
    with pytest.raises(InputTooLong, match=r"20\.0 MB; caption takes image files of at most 20\.0 MB"):
        fetch_file(services, services.registry.get("caption"), found, request_id="r1")
    assert slack.downloads() == []


def test_a_file_larger_than_it_said_is_cut_off_by_its_length(
    services: Services, slack: FakeSlackApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(MAX_BYTES, IMAGE, 100)
    found = {**slack.add_file(PNG_BYTES, name="cat.png", mimetype="image/png"), "size": 10}
    with pytest.raises(InputTooLong, match="of at most 1 KB"):  # by the Content-Length, before the body is read
        fetch_file(services, services.registry.get("caption"), found, request_id="r1")


class Endless:
    """A response without a Content-Length that never ends: only the streaming cap stops it."""

    headers: dict[str, str] = {}

    def __init__(self) -> None:
        self.read_bytes = 0

    def read1(self, size: int) -> bytes:
        self.read_bytes += size
        return b"\x89PNG\r\n\x1a\n" + bytes(size - 8)

    def __enter__(self) -> Endless:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def test_the_cap_holds_while_the_bytes_arrive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MAX_BYTES, IMAGE, 300_000)
    response = Endless()

    class Opener:
        def open(self, request: Any, timeout: float) -> Endless:
            assert request.get_header("Authorization") == f"Bearer {BOT_TOKEN}" and timeout <= 10
            return response

    with pytest.raises(InputTooLong):
        download(
            SlackFile("F1", "https://files.slack.com/files-pri/T1-F1/a.png", None, "a.png"),
            token=BOT_TOKEN,
            origins=file_origins(API),
            kind=IMAGE,
            model="caption",
            opener=Opener(),  # type: ignore[arg-type]
        )
    assert 300_000 < response.read_bytes <= 300_000 + 64 * 1024


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ("403", "would not hand it over (HTTP 403)"),
        ("404", "would not hand it over (HTTP 404)"),
        ("500", "did not send it (HTTP 500)"),
        ("login", "sign-in page instead of the file"),
    ],
)
def test_slack_refusing_the_file_is_said_in_plain_words(
    services: Services, slack: FakeSlackApi, answer: str, says: str
) -> None:
    found = slack.add_file(PNG_BYTES, name="cat.png", mimetype="image/png")
    slack.refuse_file(found["id"], answer)
    with pytest.raises(FileProblem) as refused:
        fetch_file(services, services.registry.get("caption"), found, request_id="r1")
    assert str(refused.value).startswith(CANT_READ) and says in str(refused.value)
    assert BOT_TOKEN not in str(refused.value)


def test_a_redirect_is_followed_only_to_an_allowed_host(services: Services, slack: FakeSlackApi) -> None:
    moved = slack.add_file(b"GIF89a" + bytes(20), name="a.gif", mimetype="image/gif")
    there = slack.add_file(PNG_BYTES, name="cat.png", mimetype="image/png")
    slack.redirect_file(moved["id"], there["url_private"])
    ref = fetch_file(services, services.registry.get("caption"), moved, request_id="r1")
    assert ref.media_type is PNG
    token = f"Bearer {BOT_TOKEN}"
    assert [(d.url, d.status, d.authorization) for d in slack.downloads()] == [
        (moved["url_private_download"], 302, token),
        (there["url_private"], 200, token),
    ]


def test_a_redirect_off_slack_is_not_followed(services: Services, slack: FakeSlackApi, elsewhere: FakeSlackApi) -> None:
    moved = slack.add_file(PNG_BYTES, name="cat.png", mimetype="image/png")
    off = elsewhere.add_file(PNG_BYTES, name="cat.png", mimetype="image/png")
    slack.redirect_file(moved["id"], off["url_private"])
    with pytest.raises(FileProblem, match="only read files from Slack"):
        fetch_file(services, services.registry.get("caption"), moved, request_id="r1")
    assert elsewhere.downloads() == []


def test_a_file_of_the_wrong_kind_is_refused_by_its_content(services: Services, slack: FakeSlackApi) -> None:
    claimed = slack.add_file(b"%PDF-1.7 not an image", name="cat.png", mimetype="image/png")
    with pytest.raises(InvalidInput, match="not an image or audio file"):
        fetch_file(services, services.registry.get("caption"), claimed, request_id="r1")


def test_a_message_s_file_is_the_first_of_the_model_s_kind() -> None:
    pdf = {"id": "F1", "mimetype": "application/pdf"}
    png = {"id": "F2", "mimetype": "image/png"}
    wav = {"id": "F3", "mimetype": "audio/wav"}
    gone = {"id": "F4", "mimetype": "image/png", "mode": "tombstone"}
    assert pick_file([pdf, wav, png], "image") is png
    assert pick_file([pdf, wav, png], "audio") is wav
    assert pick_file([pdf, png, wav], None) is png
    assert pick_file([pdf], "image") is pdf  # its content will say what it is
    assert pick_file([gone], "image") is None and pick_file([], None) is None
