"""Hostile clients of the form, end to end against ``python -m bot serve`` (issue 19, items 1 and 2).

Votes: the tally (and so ``/go/stats`` and the export) moves by one vote per answer, from the
browser that asked for it, however many votes a client sends. Runs: a burst from one client
address takes at most ``FORM_RUNS_PER_CLIENT`` of the model's small queue, the rest get 429, and
another person's request is told the model is busy (429 with ``Retry-After``), not "warming up".

Clients are told apart by their address, the socket's peer in local mode: each test client
connects from its own loopback address (127.0.0.2, 127.0.0.3, ...; Linux routes all of
127.0.0.0/8 to the loopback interface).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.core.config import DEFAULT_FORM_RUNS_PER_CLIENT
from bot.form.feedback import MAX_POSTS_PER_VOTER, VOTER_COOKIE
from bot.local.workers import QUEUE_LIMIT
from tests.conftest import BOT_TOKEN, ROOT, BotServer, start_server, stop_server
from tests.fakes.slack_api import FakeSlackApi

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MODEL = "tiny-sentiment"
#: Short, so that calls queued behind a stopped worker give up within seconds.
FORM_WAIT_SECONDS = 4
#: How long a cold tiny model may take to load on a busy machine (the page would keep retrying).
WARM_UP_SECONDS = 120
#: The report's input: about 19,700 characters in 65 segments.
LONG_TEXT = " | ".join(["the team moved the meeting to thursday afternoon and it was great news " * 4] * 65)[:19_700]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: dict
    cookies: list[str]


class Client:
    """One browser at one address: keeps the voter cookie the server gives it."""

    def __init__(self, server: BotServer, address: str) -> None:
        url = urlsplit(server.url)
        self.host, self.port, self.address = url.hostname or "", url.port, address
        self.cookie = ""

    def request(self, method: str, path: str, body: object = None, *, cookie: str | None = None) -> Answer:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60, source_address=(self.address, 0))
        headers = {"Content-Type": "application/json"}
        sent_cookie = self.cookie if cookie is None else cookie
        if sent_cookie:
            headers["Cookie"] = sent_cookie
        try:
            connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            response = connection.getresponse()
            raw = response.read()
            cookies = [value.split(";")[0] for name, value in response.getheaders() if name.lower() == "set-cookie"]
            data = json.loads(raw) if response.getheader("Content-Type", "").startswith("application/json") else {}
            answer = Answer(response.status, dict(response.getheaders()), data, cookies)
        finally:
            connection.close()
        if cookie is None and cookies:
            self.cookie = cookies[0]
        return answer

    def load_page(self) -> Answer:
        return self.request("GET", "/go")

    def run(self, text: str = "I love how quickly this team ships.") -> Answer:
        return self.request("POST", "/go", {"model": MODEL, "text": text})

    def vote(self, request_id: str, vote: str = "up", *, cookie: str | None = None) -> Answer:
        return self.request("POST", "/go/feedback", {"request_id": request_id, "vote": vote}, cookie=cookie)


@pytest.fixture(scope="module")
def server(tiny_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:
    with FakeSlackApi(expect_token=BOT_TOKEN) as slack:
        running = start_server(
            registry=tiny_registry,
            slack=slack,
            workdir=tmp_path_factory.mktemp("form-limits"),
            extra_env={"FORM_WAIT_SECONDS": str(FORM_WAIT_SECONDS)},
        )
        yield running
        stop_server(running)


def answered(client: Client) -> str:
    """Run the model until it answers (a cold one first says it is warming up); the request id."""
    deadline = time.monotonic() + WARM_UP_SECONDS
    while True:
        answer = client.run()
        if answer.status == 200:
            return answer.body["request_id"]
        assert answer.status == 202 and time.monotonic() < deadline, answer
        time.sleep(answer.body["retry_after"])


def export(server: BotServer) -> list[dict]:
    env = {"DATA_DIR": str(server.data_dir), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "bot", "feedback", "export", "--format", "jsonl"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_votes_count_once_per_answer_from_the_browser_that_asked(server: BotServer) -> None:
    asker = Client(server, "127.0.0.2")
    assert asker.load_page().cookies[0].startswith(f"{VOTER_COOKIE}=")
    request_id = answered(asker)

    without_cookie = [asker.vote(request_id, cookie="") for _ in range(20)]
    from_strangers = []
    for _ in range(20):
        stranger = Client(server, "127.0.0.2")
        stranger.load_page()
        from_strangers.append(stranger.vote(request_id))
    from_asker = [asker.vote(request_id) for _ in range(20)]

    assert Counter((a.status, a.body["error"]["type"]) for a in without_cookie) == {(403, "no_voter"): 20}
    assert Counter((a.status, a.body["error"]["type"]) for a in from_strangers) == {(403, "not_your_answer"): 20}
    assert {a.status for a in from_asker} == {200}
    assert from_asker[-1].body["tally"] == {"up": 1, "down": 0, "comments": 0}
    rows = [row for row in export(server) if row["request_id"] == request_id]
    assert [(row["vote"], row["voter"]) for row in rows] == [("up", "form:" + asker.cookie.split("=")[1].split(".")[0])]


def test_one_voter_gets_a_429_after_its_hourly_feedback(server: BotServer) -> None:
    voter = Client(server, "127.0.0.4")
    voter.load_page()
    request_id = answered(voter)

    statuses = [voter.vote(request_id, "up" if n % 2 else "down").status for n in range(MAX_POSTS_PER_VOTER)]
    refused = voter.vote(request_id)

    assert statuses == [200] * MAX_POSTS_PER_VOTER
    assert refused.status == 429
    assert refused.body["error"]["type"] == "too_much_feedback"
    assert 3000 < int(refused.headers["Retry-After"]) <= 3600


def test_a_burst_from_one_client_leaves_others_a_clear_busy_not_warming_up(server: BotServer) -> None:
    """The report: 20 concurrent long runs from one client filled the model's one worker, and another
    person's small run got 202 "still warming up" after 22 s."""
    assert DEFAULT_FORM_RUNS_PER_CLIENT - 1 >= QUEUE_LIMIT, "one client's runs fill the queue behind the running one"
    refused_at_once = 20 - DEFAULT_FORM_RUNS_PER_CLIENT
    answered(Client(server, "127.0.0.5"))  # the model is loaded
    (worker,) = server.worker_pids()  # only MODEL runs here
    attacker, other = Client(server, "127.0.0.6"), Client(server, "127.0.0.7")
    os.kill(worker, signal.SIGSTOP)  # the model now takes for ever over whatever it runs
    try:
        with ThreadPoolExecutor(20) as pool:
            burst = [pool.submit(attacker.run, LONG_TEXT) for _ in range(20)]
            deadline = time.monotonic() + 20
            while sum(f.done() for f in burst) < refused_at_once and time.monotonic() < deadline:
                time.sleep(0.05)
            # the admitted runs: the one the stopped model holds and the QUEUE_LIMIT queued behind it
            while server.activity()["models"] < QUEUE_LIMIT + 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            started = time.monotonic()
            theirs = other.run()
            waited = time.monotonic() - started
            attackers = [f.result(FORM_WAIT_SECONDS + 20) for f in burst]
    finally:
        os.kill(worker, signal.SIGCONT)

    kinds = Counter(a.body.get("status") or a.body["error"]["type"] for a in attackers)
    assert kinds["too_many_runs"] == refused_at_once
    # The admitted three: the one the stopped model holds waits the form's wait out (202, as a slow
    # answer in AWS does); the two queued behind it are told the model is busy.
    assert kinds["busy"] == QUEUE_LIMIT and kinds["warming_up"] == 1, kinds
    assert all(a.headers["Retry-After"] == "5" for a in attackers if a.status == 429)
    assert theirs.status == 429, theirs
    assert theirs.body["error"]["type"] == "busy"
    assert theirs.body["error"]["message"].startswith("The model is busy with other requests: Tiny ")
    assert "warming" not in json.dumps(theirs.body)
    assert theirs.headers["Retry-After"] == "5"
    assert waited < FORM_WAIT_SECONDS, "a full queue refuses at once"

    time.sleep(int(theirs.headers["Retry-After"]))
    assert other.run().status == 200, "as the page does, asking again after Retry-After gets the answer"
