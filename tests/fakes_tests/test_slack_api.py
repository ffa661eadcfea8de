"""The fake Slack Web API, driven by slack_sdk's own clients."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.client import RemoteDisconnected
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import HTTPRedirectHandler, Request, build_opener, urlopen

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    FixedValueRetryIntervalCalculator,
    RateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from tests.fakes.slack_api import FakeSlackApi

TOKEN = "xoxb-test"
NO_WAIT = FixedValueRetryIntervalCalculator(0.0)
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Working on it*"}}]


@pytest.fixture
def fake() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(expect_token=TOKEN) as api:
        yield api


def client(fake: FakeSlackApi, *, token: str = TOKEN, retry_handlers: list | None = None) -> WebClient:
    return WebClient(token=token, base_url=fake.base_url, retry_handlers=retry_handlers or [])


def test_base_url_is_loopback_and_ends_like_slacks(fake: FakeSlackApi) -> None:
    assert fake.base_url.startswith("http://127.0.0.1:")
    assert fake.base_url.endswith("/api/")


def test_auth_test_names_the_bot(fake: FakeSlackApi) -> None:
    answer = client(fake).auth_test()
    assert (answer["user_id"], answer["bot_id"], answer["team_id"]) == ("UBOT", "BBOT", "T0001")


def test_post_then_update_is_recorded_and_stored(fake: FakeSlackApi) -> None:
    web = client(fake)
    posted = web.chat_postMessage(channel="C123", text="Working on it", blocks=BLOCKS, thread_ts="1699999999.000100")
    web.chat_update(channel="C123", ts=posted["ts"], text="Done in 1.2 s", blocks=[{"type": "divider"}])

    assert posted["ts"] == "1700000000.000100"
    assert posted["message"]["thread_ts"] == "1699999999.000100"
    [call] = fake.calls("chat.postMessage")
    assert call.params["blocks"] == BLOCKS  # decoded, not a JSON string
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    [message] = fake.messages("C123")
    assert message["text"] == "Done in 1.2 s"
    assert message["blocks"] == [{"type": "divider"}]
    assert message["thread_ts"] == "1699999999.000100"
    assert "edited" in message


def test_form_bodies_have_their_json_fields_decoded(fake: FakeSlackApi) -> None:
    client(fake).api_call(
        "chat.postMessage",
        params={"channel": "C123", "text": "hi", "blocks": '[{"type": "divider"}]', "attachments": "[]"},
    )
    [call] = fake.calls("chat.postMessage")
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert call.params["blocks"] == [{"type": "divider"}]
    assert call.params["attachments"] == []


def test_timestamps_are_unique_and_increasing_under_concurrency(fake: FakeSlackApi) -> None:
    web = client(fake)
    stamps: list[str] = []

    def post(n: int) -> None:
        stamps.append(web.chat_postMessage(channel="C123", text=f"message {n}")["ts"])

    threads = [threading.Thread(target=post, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(set(stamps)) == 50
    assert [m["ts"] for m in fake.messages()] == sorted(stamps, key=float)
    assert len(fake.calls("chat.postMessage")) == 50


def test_messages_are_validated_like_slack(fake: FakeSlackApi) -> None:
    web = client(fake)
    with pytest.raises(SlackApiError) as no_text:
        web.api_call("chat.postMessage", json={"channel": "C123"})
    with pytest.raises(SlackApiError) as missing:
        web.chat_update(channel="C123", ts="1.000000", text="x")
    assert no_text.value.response["error"] == "no_text"
    assert missing.value.response["error"] == "message_not_found"


def test_delete_removes_the_stored_message(fake: FakeSlackApi) -> None:
    web = client(fake)
    ts = web.chat_postMessage(channel="C123", text="placeholder")["ts"]
    web.chat_delete(channel="C123", ts=ts)
    assert fake.messages() == []


def test_ephemeral_permalink_reactions_and_users(fake: FakeSlackApi) -> None:
    web = client(fake)
    assert web.chat_postEphemeral(channel="C123", user="U123", text="usage")["message_ts"]
    link = web.chat_getPermalink(channel="C123", message_ts="1700000000.000100")["permalink"]
    assert link.endswith("/archives/C123/p1700000000000100")
    assert web.reactions_add(channel="C123", name="eyes", timestamp="1700000000.000100")["ok"]
    assert web.users_info(user="U123")["user"]["id"] == "U123"
    assert [c.method for c in fake.calls()] == [
        "chat.postEphemeral",
        "chat.getPermalink",
        "reactions.add",
        "users.info",
    ]


def test_views_get_ids_and_home_tabs_keep_theirs(fake: FakeSlackApi) -> None:
    web = client(fake)
    modal = {"type": "modal", "callback_id": "run_model_modal", "title": {"type": "plain_text", "text": "Run"}}
    opened = web.views_open(trigger_id="1.2.abc", view=modal)["view"]
    updated = web.views_update(view_id=opened["id"], view=modal)["view"]
    home = {"type": "home", "blocks": [{"type": "divider"}]}
    first = web.views_publish(user_id="U123", view=home)["view"]
    second = web.views_publish(user_id="U123", view=home)["view"]

    assert opened["callback_id"] == "run_model_modal"
    assert updated["id"] == opened["id"]
    assert first["id"] == second["id"] != opened["id"]
    assert fake.calls("views.publish")[0].params["view"]["blocks"] == [{"type": "divider"}]
    with pytest.raises(SlackApiError):
        web.views_open(trigger_id="", view=modal)


def test_threads_are_seeded_and_include_the_bots_replies(fake: FakeSlackApi) -> None:
    web = client(fake)
    fake.set_thread(
        "C123",
        "1699990000.000100",
        [{"user": "U456", "text": "Long report"}, {"user": "U123", "text": "<@UBOT> summarize"}],
    )
    web.chat_postMessage(channel="C123", text="Summary", thread_ts="1699990000.000100")
    web.chat_postMessage(channel="C123", text="Elsewhere")

    replies = web.conversations_replies(channel="C123", ts="1699990000.000100")["messages"]
    assert [m["text"] for m in replies] == ["Long report", "<@UBOT> summarize", "Summary"]
    assert all(m["thread_ts"] == "1699990000.000100" for m in replies)
    assert replies[1]["ts"] == "1699990000.000101"
    with pytest.raises(SlackApiError) as missing:
        web.conversations_replies(channel="C123", ts="1.000000")
    assert missing.value.response["error"] == "thread_not_found"


def test_history_answers_one_message_by_ts(fake: FakeSlackApi) -> None:
    web = client(fake)
    fake.set_thread("C123", "1699990000.000100", [{"user": "U456", "text": "Parent"}])
    web.chat_postMessage(channel="C123", text="Later")

    one = web.conversations_history(channel="C123", latest="1699990000.000100", inclusive=True, limit=1)
    newest_first = web.conversations_history(channel="C123")["messages"]

    assert [m["text"] for m in one["messages"]] == ["Parent"]
    assert [m["text"] for m in newest_first] == ["Later", "Parent"]


def test_unknown_methods_and_bad_tokens_are_refused(fake: FakeSlackApi) -> None:
    with pytest.raises(SlackApiError) as unknown:
        client(fake).api_call("models.summon")
    with pytest.raises(SlackApiError) as wrong:
        client(fake, token="xoxb-wrong").auth_test()
    assert unknown.value.response["error"] == "unknown_method"
    assert wrong.value.response["error"] == "invalid_auth"


def test_rate_limit_answers_429_with_retry_after(fake: FakeSlackApi) -> None:
    fake.fail("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as limited:
        client(fake).chat_postMessage(channel="C123", text="hi")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["retry-after"] == "7"
    assert limited.value.response["error"] == "ratelimited"


def test_rate_limit_retry_handler_honours_retry_after(fake: FakeSlackApi) -> None:
    fake.fail("chat.postMessage", status=429, retry_after=0, times=1)  # the handler still sleeps up to 1 s
    web = client(fake, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])

    assert web.chat_postMessage(channel="C123", text="hi")["ok"]
    assert [c.fault for c in fake.calls("chat.postMessage")] == ["429", None]
    assert len(fake.messages()) == 1


def test_server_errors_then_recovery(fake: FakeSlackApi) -> None:
    fake.fail("chat.update", status=500, times=2)
    web = client(fake, retry_handlers=[ServerErrorRetryHandler(max_retry_count=2, interval_calculator=NO_WAIT)])
    ts = web.chat_postMessage(channel="C123", text="placeholder")["ts"]

    web.chat_update(channel="C123", ts=ts, text="done")

    assert [c.fault for c in fake.calls("chat.update")] == ["500", "500", None]
    assert fake.messages()[0]["text"] == "done"


def test_dropped_connections_until_healed(fake: FakeSlackApi) -> None:
    fake.fail("chat.postMessage", drop=True, times=None)
    web = client(fake, retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1, interval_calculator=NO_WAIT)])
    with pytest.raises((RemoteDisconnected, URLError, ConnectionError)):
        web.chat_postMessage(channel="C123", text="hi")
    assert [c.fault for c in fake.calls("chat.postMessage")] == ["drop", "drop"]

    fake.heal()
    assert web.chat_postMessage(channel="C123", text="hi")["ok"]
    assert len(fake.messages()) == 1


def test_error_answers_are_http_200(fake: FakeSlackApi) -> None:
    fake.fail("chat.postMessage", error="not_in_channel", times=1)
    web = client(fake)
    with pytest.raises(SlackApiError) as refused:
        web.chat_postMessage(channel="C999", text="hi")
    assert refused.value.response.status_code == 200
    assert refused.value.response["error"] == "not_in_channel"
    assert web.chat_postMessage(channel="C999", text="hi")["ok"]  # times=1: the next call goes through


def test_faults_on_one_method_apply_in_order_and_leave_others_alone(fake: FakeSlackApi) -> None:
    fake.fail("chat.postMessage", status=429, retry_after=0)
    fake.fail("chat.postMessage", status=503)
    web = client(fake)
    statuses = []
    for _ in range(3):
        try:
            statuses.append(web.chat_postMessage(channel="C123", text="hi").status_code)
        except SlackApiError as exc:
            statuses.append(exc.response.status_code)
    assert statuses == [429, 503, 200]
    assert web.auth_test()["ok"]


def test_latency_delays_the_answer(fake: FakeSlackApi) -> None:
    fake.set_latency(0.3, methods=["auth.test"])
    started = time.monotonic()
    client(fake).auth_test()
    assert time.monotonic() - started >= 0.25  # a lower bound only: sleeps never end early


def test_close_cuts_latency_short() -> None:
    api = FakeSlackApi().start()
    api.set_latency(60)
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(client(api, token="any").auth_test()["ok"])
        except Exception as exc:  # the server may be gone already: any end will do
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    assert api.wait_for(lambda: api.calls("auth.test"), timeout=5)
    api.close()
    caller.join(timeout=10)
    assert not caller.is_alive()
    assert outcome


def test_response_urls_are_recorded(fake: FakeSlackApi) -> None:
    url = fake.new_response_url()
    other = fake.new_response_url()
    answer = WebhookClient(url).send(text="Posting failed, so here it is", response_type="ephemeral")
    WebhookClient(other).send(text="second")

    assert url.startswith(fake.origin + "/response/")
    assert answer.status_code == 200
    [post] = fake.response_posts(url)
    assert post.body == {"text": "Posting failed, so here it is", "response_type": "ephemeral"}
    assert len(fake.response_posts()) == 2


def test_unknown_response_urls_are_404(fake: FakeSlackApi) -> None:
    request = Request(fake.origin + "/response/nope", data=b"{}", headers={"Content-Type": "application/json"})
    with pytest.raises(HTTPError) as missing:
        urlopen(request, timeout=5)
    assert missing.value.code == 404
    assert fake.response_posts() == []


def test_response_urls_take_faults(fake: FakeSlackApi) -> None:
    url = fake.new_response_url()
    fake.fail("response_url", status=500)
    assert WebhookClient(url).send(text="x").status_code == 500
    assert WebhookClient(url).send(text="x").status_code == 200
    assert [p.fault for p in fake.response_posts(url)] == ["500", None]


def test_clear_forgets_what_happened_but_keeps_faults(fake: FakeSlackApi) -> None:
    web = client(fake)
    web.chat_postMessage(channel="C123", text="hi")
    fake.fail("auth.test", error="account_inactive", times=None)
    fake.clear()
    assert fake.calls() == [] and fake.messages() == []
    with pytest.raises(SlackApiError):
        web.auth_test()


def test_wait_for_is_bounded(fake: FakeSlackApi) -> None:
    web = client(fake)
    poster = threading.Thread(target=lambda: web.chat_postMessage(channel="C123", text="later"))
    poster.start()
    assert fake.wait_for(lambda: fake.messages("C123"), timeout=5)
    poster.join(timeout=5)
    assert not fake.wait_for(lambda: False, timeout=0.05)


# -- files: downloads with the bot token, files.info, the external upload flow ------------------


def download(url: str, token: str | None) -> tuple[int, bytes, str]:
    request = Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urlopen(request, timeout=5) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except HTTPError as exc:
        return exc.code, b"", ""


def test_a_file_is_served_with_the_bot_token_only_and_every_download_recorded(fake: FakeSlackApi) -> None:
    found = fake.add_file(b"\x89PNG\r\n\x1a\nrest", name="cat.png", mimetype="image/png")
    url = found["url_private_download"]
    assert url.startswith(f"{fake.origin}/files-pri/T0001-{found['id']}/cat.png")
    assert found["size"] == 12
    assert download(url, TOKEN) == (200, b"\x89PNG\r\n\x1a\nrest", "image/png")
    assert download(url, None)[0] == 401
    assert download(url, "xoxb-other")[0] == 403
    assert download(url.replace("cat.png", "dog.png"), TOKEN)[0] == 404
    assert [(d.url, d.status) for d in fake.downloads()] == [
        (url, 200),
        (url, 401),
        (url, 403),
        (url.replace("cat.png", "dog.png"), 404),
    ]
    assert fake.downloads()[0].authorization == f"Bearer {TOKEN}"


def test_a_file_can_be_refused_or_answered_with_a_sign_in_page(fake: FakeSlackApi) -> None:
    refused = fake.add_file(b"RIFF....WAVE", name="a.wav", mimetype="audio/wav")
    page = fake.add_file(b"GIF89a", name="b.gif", mimetype="image/gif")
    fake.refuse_file(refused["id"])
    fake.refuse_file(page["id"], "login")
    assert download(refused["url_private"], TOKEN)[0] == 403
    status, body, kind = download(page["url_private"], TOKEN)
    assert (status, kind) == (200, "text/html; charset=utf-8") and body.startswith(b"<!DOCTYPE html>")


def test_files_info_answers_the_file_object_or_file_not_found(fake: FakeSlackApi) -> None:
    found = fake.add_file(b"GIF89a", name="b.gif", mimetype="image/gif")
    assert client(fake).files_info(file=found["id"])["file"] == found
    with pytest.raises(SlackApiError) as refused:
        client(fake).files_info(file="F404")
    assert refused.value.response["error"] == "file_not_found"


def test_the_external_upload_flow_of_slack_sdk_is_recorded_with_its_thread(fake: FakeSlackApi) -> None:
    answer = client(fake).files_upload_v2(
        file=b"\x89PNG\r\n\x1a\nboxes", filename="boxes.png", title="Boxes", channel="C1", thread_ts="1.000100"
    )
    [upload] = fake.uploads()
    assert (upload.filename, upload.title, upload.data) == ("boxes.png", "Boxes", b"\x89PNG\r\n\x1a\nboxes")
    assert (upload.channel, upload.thread_ts) == ("C1", "1.000100")
    assert answer["files"][0]["id"] == upload.file_id
    assert [c.method for c in fake.calls()] == ["files.getUploadURLExternal", "files.completeUploadExternal"]


def test_completing_an_upload_whose_bytes_never_came_is_refused(fake: FakeSlackApi) -> None:
    web = client(fake)
    started = web.files_getUploadURLExternal(filename="x.png", length=3)
    with pytest.raises(SlackApiError) as refused:
        web.files_completeUploadExternal(files=[{"id": started["file_id"], "title": "x"}], channel_id="C1")
    assert refused.value.response["error"] == "upload_not_found"
    assert fake.uploads() == []


def test_a_file_can_be_redirected_elsewhere(fake: FakeSlackApi) -> None:
    moved = fake.add_file(b"GIF89a", name="b.gif", mimetype="image/gif")
    fake.redirect_file(moved["id"], "https://files-origin.slack.com/x/b.gif")
    request = Request(moved["url_private_download"], headers={"Authorization": f"Bearer {TOKEN}"})

    class Stop(Exception):
        """Where the redirect would have gone."""

    class Refuse(HTTPRedirectHandler):
        def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
            raise Stop(code, newurl)

    with pytest.raises(Stop) as stopped:
        build_opener(Refuse()).open(request, timeout=5)
    assert stopped.value.args == (302, "https://files-origin.slack.com/x/b.gif")
    assert [d.status for d in fake.downloads()] == [302]
