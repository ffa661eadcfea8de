"""``python -m bot`` fails in one ``error: ...`` line that says what to do, exit 1 (2 for a wrong
command line), and Ctrl-C exits 130 with every child process stopped; never a traceback.

``invoke`` meets small servers of the tests' own on 127.0.0.1 that misbehave one way each;
``serve`` and Ctrl-C run the real command in a subprocess; ``feedback export`` runs in-process
against a fake DynamoDB endpoint where it needs one.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import main
from bot.cli_errors import CannotListen, explain
from bot.local.workers import WorkerPool
from bot.stores.feedback import Answer, SqliteFeedbackStore
from inference.registry import load_registry
from tests.conftest import BOT_TOKEN, ROOT, BotServer, start_server
from tests.e2e.test_load_failures import closed_port
from tests.fakes.slack_api import FakeSlackApi

#: Bounds every subprocess and wait in this file.
PATIENCE_SECONDS = 30


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """What the command wrote on stderr, checked to be one ``error: ...`` line."""
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


# -- invoke: a server that is down, dies mid-request, or is not the bot -----------------------------


def _read_request(conn: socket.socket) -> None:
    """Read one HTTP request to its last byte, so closing the socket sends FIN, not RST."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    while len(body) < length:
        body += conn.recv(65536)


def _hang_up(conn: socket.socket) -> None:
    """Close the connection without an answer (``RemoteDisconnected``)."""


def _reset(conn: socket.socket) -> None:
    """Reset the connection (RST) halfway through an answer (``ConnectionResetError``)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _html(status: str) -> Callable[[socket.socket], None]:
    def answer(conn: socket.socket) -> None:
        page = b"<!DOCTYPE html><title>Some other program</title>"
        conn.sendall(
            f"HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {len(page)}\r\n\r\n".encode() + page
        )

    return answer


@contextlib.contextmanager
def misbehaving_server(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """A server on 127.0.0.1 that reads each request, answers it with ``answer`` and closes; yields its URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(PATIENCE_SECONDS)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed: the test is over
            with conn:
                _read_request(conn)
                answer(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (_hang_up, "stopped answering mid-request (Remote end closed connection without response)"),
        (_reset, "stopped answering mid-request (Connection reset by peer)"),
        (_html("200 OK"), "answered HTTP 200 with text/html, not the bot's JSON"),
        (_html("502 Bad Gateway"), "answered HTTP 502 with text/html, not the bot's JSON"),
    ],
    ids=["hangs-up", "resets", "html", "html-error"],
)
def test_invoke_when_the_server_misbehaves(
    answer: Callable[[socket.socket], None], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with misbehaving_server(answer) as url:
        assert main(["invoke", "tiny-sentiment", "I love it", "--url", url]) == 1
    line = error_line(capsys)
    assert f"error: {url} {words}" in line
    assert "`python -m bot serve`" in line


def test_invoke_when_nothing_listens(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    assert main(["invoke", "tiny-sentiment", "I love it", "--url", url + "/"]) == 1
    assert error_line(capsys) == (
        f"error: cannot reach {url} (Connection refused): is `python -m bot serve` running at {url}?\n"
    )


def test_invoke_with_a_url_that_is_not_http(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invoke", "tiny-sentiment", "I love it", "--url", "127.0.0.1:3000"]) == 2
    assert error_line(capsys) == "error: --url must start with http:// or https://, got '127.0.0.1:3000'\n"


# -- serve: where it cannot listen --------------------------------------------------------------------


def serve(*args: str, data_dir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "serve", *args],
        cwd=ROOT,
        env={**os.environ, "DATA_DIR": str(data_dir), **(env or {})},
        capture_output=True,
        text=True,
        timeout=PATIENCE_SECONDS,
    )


def test_serve_on_a_port_in_use(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = serve("--port", str(port), data_dir=tmp_path)
    assert (done.returncode, done.stderr) == (
        1,
        f"error: cannot listen on 127.0.0.1:{port}: the port is in use (another `python -m bot serve`?); "
        "stop that program or pass --port with a free port\n",
    )


@pytest.mark.parametrize(
    ("host", "reason"), [("not-a-host!", "Name or service not known"), ("192.0.2.1", "Cannot assign requested address")]
)
def test_serve_on_a_host_that_is_not_this_machine(host: str, reason: str, tmp_path: Path) -> None:
    done = serve("--host", host, "--port", "0", data_dir=tmp_path)
    assert (done.returncode, done.stderr) == (
        1,
        f"error: cannot listen on {host!r}: it is no name or address of this machine ({reason}); "
        "pass --host 127.0.0.1 (this machine only) or --host 0.0.0.0 (every network)\n",
    )


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("FORM_RUNS_PER_CLIENT", "0", "must be a whole number of at least 1, got '0'"),
        ("CONNECTIONS_PER_CLIENT", "many", "must be a whole number of at least 1, got 'many'"),
        ("ALLOWED_HOSTS", "https://example.com", "lists host names or addresses without scheme or port"),
        ("FORM_WAIT_SECONDS", "soon", "must be a positive number of seconds, got 'soon'"),
    ],
)
def test_serve_with_a_setting_it_cannot_use(name: str, value: str, says: str, tmp_path: Path) -> None:
    done = serve("--port", "0", data_dir=tmp_path, env={name: value})
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: {name} {says}") and done.stderr.endswith("(unset it for the default)\n")
    assert done.stderr.count("\n") == 1, done.stderr


def test_any_other_listen_failure_gives_its_reason() -> None:
    refused = CannotListen("127.0.0.1", 80, PermissionError(errno.EACCES, "Permission denied"))
    assert explain(refused) == ("cannot listen on 127.0.0.1:80: Permission denied", 1)


def test_serve_on_a_port_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["serve", "--port", "70000"])
    assert caught.value.code == 2
    assert "expected a port from 0 to 65535, got '70000'" in capsys.readouterr().err


# -- Ctrl-C in serve -----------------------------------------------------------------------------------


def children(pid: int) -> set[int]:
    """Every child process of ``pid`` (model workers and multiprocessing's resource tracker), from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def running(pid: int) -> bool:
    """Still running: neither gone nor a zombie (dead, its exit status not yet collected)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def wait_until(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def post_go(server: BotServer, model: str, text: str) -> int:
    request = urllib.request.Request(
        server.url + "/go",
        data=json.dumps({"model": model, "text": text}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=PATIENCE_SECONDS) as response:
        return response.status


def ask_and_forget(server: BotServer) -> None:
    """A form request left waiting while the server stops: whatever it gets back does not matter."""
    with contextlib.suppress(OSError):
        post_go(server, "tiny-sentiment", "I love it")


@contextlib.contextmanager
def local_server(registry: Path, workdir: Path) -> Iterator[BotServer]:
    with FakeSlackApi(expect_token=BOT_TOKEN) as slack:
        server = start_server(registry=registry, slack=slack, workdir=workdir)
        try:
            yield server
        finally:
            if server.process.poll() is None:
                server.process.kill()
            server.process.wait(PATIENCE_SECONDS)


def stopped_by_ctrl_c(server: BotServer, processes: set[int]) -> str:
    """Wait for the server to exit 130 and ``processes`` to stop; its stderr, checked free of tracebacks."""
    assert server.process.wait(PATIENCE_SECONDS) == 130
    wait_until(lambda: not any(running(pid) for pid in processes), f"the child processes {processes} to stop")
    logs = server.logs()
    assert "Traceback" not in logs, logs
    assert logs.endswith("\ninterrupted\n"), logs
    return logs


@pytest.mark.slow
def test_ctrl_c_in_the_terminal_while_a_model_loads(tiny_registry: Path, tmp_path: Path) -> None:
    """A terminal sends Ctrl-C to every process in its group: here the worker gets it first, mid-load."""
    with local_server(tiny_registry, tmp_path) as server:
        threading.Thread(target=ask_and_forget, args=(server,), daemon=True).start()
        processes = wait_until(lambda: children(server.process.pid), "a model worker to start")
        time.sleep(0.5)  # past the worker's own start-up, into the model's import
        for pid in processes:
            os.kill(pid, signal.SIGINT)
        time.sleep(1.0)  # a worker that took it would be printing its traceback by now
        os.kill(server.process.pid, signal.SIGINT)
        stopped_by_ctrl_c(server, processes)


@pytest.mark.slow
def test_ctrl_c_after_a_model_answered(tiny_registry: Path, tmp_path: Path) -> None:
    """The loaded worker is asked to exit, so it tidies up after itself (no leaked-semaphore warning)."""
    with local_server(tiny_registry, tmp_path) as server:
        assert post_go(server, "tiny-sentiment", "I love it") == 200
        processes = children(server.process.pid)
        os.kill(server.process.pid, signal.SIGINT)
        logs = stopped_by_ctrl_c(server, processes)
    assert "leaked" not in logs, logs


def test_closing_the_pool_while_a_slack_request_loads_its_model(
    tiny_registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``serve`` does on Ctrl-C: the worker stops, its thread ends quietly, nothing is delivered late."""
    thread_errors: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: thread_errors.append(args.exc_value))
    delivered: list[dict[str, Any]] = []
    pool = WorkerPool(load_registry(tiny_registry), on_record=delivered.append)
    pool.invoke_async("tiny-sentiment", {"text": "I love it"})
    worker = pool.workers["tiny-sentiment"]
    pid = wait_until(lambda: worker.pid, "the model worker to start")
    time.sleep(0.5)  # into the model's import
    pool.close()
    assert not running(pid)
    worker._thread.join(PATIENCE_SECONDS)
    assert not worker._thread.is_alive()
    assert (thread_errors, delivered) == ([], [])


# -- feedback export ---------------------------------------------------------------------------------


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """``FEEDBACK_TABLE`` set, and no AWS configuration at all: no region, no credentials, no profile."""
    import boto3

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    (tmp_path / "empty").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "empty"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "empty"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookups
    monkeypatch.setenv("FEEDBACK_TABLE", "feedback")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # one made by an earlier test keeps its configuration
    return monkeypatch


@pytest.mark.parametrize("region", [None, ""], ids=["unset", "empty"])
def test_export_from_dynamodb_without_a_region(
    region: str | None, aws: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if region is not None:
        aws.setenv("AWS_DEFAULT_REGION", region)
    assert main(["feedback", "export"]) == 1
    assert "set AWS_DEFAULT_REGION to the stack's region" in error_line(capsys)


def test_export_from_dynamodb_without_credentials(aws: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    aws.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert main(["feedback", "export"]) == 1
    assert error_line(capsys).startswith("error: no AWS credentials to read FEEDBACK_TABLE with: set AWS_PROFILE")


def test_export_from_a_table_that_does_not_exist(aws: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    body = b'{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}'

    def not_found(conn: socket.socket) -> None:
        head = f"HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {len(body)}"
        conn.sendall(head.encode() + b"\r\n\r\n" + body)

    with misbehaving_server(not_found) as url:
        aws.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        aws.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
        aws.setenv("AWS_SECRET_ACCESS_KEY", "example-secret")
        aws.setenv("AWS_ENDPOINT_URL_DYNAMODB", url)
        assert main(["feedback", "export"]) == 1
    assert error_line(capsys) == (
        "error: AWS: An error occurred (ResourceNotFoundException) when calling the Scan operation: "
        "Requested resource not found (check FEEDBACK_TABLE, which names the stack's feedback table, "
        "and AWS_DEFAULT_REGION)\n"
    )


@pytest.fixture
def local_feedback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SqliteFeedbackStore:
    """The local store, holding one answer (delivered at 2026-12-01T20:08:51Z) with one vote."""
    monkeypatch.delenv("FEEDBACK_TABLE", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    store = SqliteFeedbackStore(tmp_path / "data" / "feedback.sqlite")
    answer = Answer(
        request_id="req-1",
        model="sentiment",
        revision="abc",
        task="text-classification",
        input="I love it",
        output={"labels": []},
        created_at=1796155731.0,
    )
    store.record_answer(answer)
    store.vote("req-1", "form:voter", "up")
    return store


@pytest.mark.parametrize("format", ["csv", "jsonl"])
def test_export_times_are_iso_8601_utc(
    format: str, local_feedback: SqliteFeedbackStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"feedback.{format}"
    assert main(["feedback", "export", "--format", format, "-o", str(out)]) == 0
    with out.open(encoding="utf-8", newline="") as stream:
        [row] = csv.DictReader(stream) if format == "csv" else [json.loads(line) for line in stream]
    assert row["created_at"] == "2026-12-01T20:08:51Z"
    assert row["voted_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(local_feedback.votes()[0].voted_at))
    assert capsys.readouterr().err == "1 vote(s) exported.\n"


def test_export_to_a_file_that_cannot_be_written(
    local_feedback: SqliteFeedbackStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "no-such-folder" / "feedback.csv"
    assert main(["feedback", "export", "-o", str(out)]) == 1
    assert error_line(capsys) == (
        f"error: cannot write {out} (No such file or directory): "
        "pass --output a file you can write, or - for the terminal\n"
    )


def test_export_for_a_model_not_in_the_registry(
    local_feedback: SqliteFeedbackStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["feedback", "export", "--model", "nope"]) == 2
    names = ", ".join(load_registry().names)
    assert error_line(capsys) == f"error: Unknown model 'nope'. Valid names: {names}.\n"


def test_export_for_a_model_taken_out_of_the_registry(
    local_feedback: SqliteFeedbackStore, capsys: pytest.CaptureFixture[str]
) -> None:
    local_feedback.record_answer(
        Answer(request_id="req-2", model="retired", revision=None, task="fill-mask", input="x", output={})
    )
    local_feedback.vote("req-2", "U1", "down")
    assert main(["feedback", "export", "--model", "retired", "--format", "jsonl"]) == 0
    [row] = map(json.loads, capsys.readouterr().out.splitlines())
    assert (row["model"], row["vote"]) == ("retired", "down")
