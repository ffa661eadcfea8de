"""The deploy's warm step in-process: the event the stack's custom resource sends, a fake Hub, a temporary EFS.

``inference.warm_handler.handler`` gets exactly what CDK's provider framework
hands its ``onEvent`` function (``RequestType``, ``ResourceProperties`` as
infra/warm.py writes them, ``PhysicalResourceId`` on Update and Delete), fills a
temporary ``HF_HOME`` from the fake Hub (tests/fakes/hub.py) serving the tiny
model with the ``sentiment`` entry's real file set at its real pin, and then the
model handler answers offline from that cache, as a model function does. The
failures name the entry and the reason in the exception's message, which is what
``cdk deploy`` prints.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inference import handler as model_handler
from inference import warm_handler
from inference.backends import BACKENDS
from inference.conversions import ConversionRefused
from inference.errors import ModelLoadError
from inference.registry import DEFAULT_MODELS_FILE, load_registry
from inference.service import LoadOnce
from tests.fakes.hub import FakeHub
from tests.fakes.slack_client import LambdaContext
from tests.hub_repos import publish

ENTRY = "sentiment"


def resource_event(request: str, name: str = ENTRY, **overrides: Any) -> dict[str, Any]:
    """What the provider framework passes the onEvent function for entry ``name`` of the default registry."""
    spec = load_registry(DEFAULT_MODELS_FILE).get(name)
    properties = {
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:HfSlackBot-WarmProviderframeworkonEvent",
        "Entry": spec.name,
        "Model": spec.model,
        "Revision": spec.revision,
        "Backend": spec.backend,
        "Quantize": spec.quantize,
        "Task": spec.task,
        "Pins": "0123456789abcdef0123",
        **overrides,
    }
    event: dict[str, Any] = {
        "RequestType": request,
        "ServiceToken": properties["ServiceToken"],
        "ResponseURL": "https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/...",
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/HfSlackBot/1",
        "RequestId": "2f0b5d4e-7c1a-4d1e-9b3f-0a1b2c3d4e5f",
        "LogicalResourceId": f"ModelsWarm{name}",
        "ResourceType": "Custom::WarmModelCache",
        "ResourceProperties": properties,
    }
    if request != "Create":
        event["PhysicalResourceId"] = f"warm-{name}"
    if request == "Update":
        event["OldResourceProperties"] = {**properties, "Revision": "0" * 40}
    return event


def context(seconds: float = 900.0) -> LambdaContext:
    return LambdaContext(function_name="hfslackbot-warm", deadline=time.monotonic() + seconds)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeHub]:
    with FakeHub() as fake:
        publish(fake, tmp_path_factory.mktemp("warm-repos"), [ENTRY])
        yield fake


@pytest.fixture
def efs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache as the warm function mounts it: ``HF_HOME`` on an empty folder, the default registry."""
    home = tmp_path / "mnt" / "hf_models"
    home.mkdir(parents=True)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv(warm_handler.WARM_SOURCE_ENV, raising=False)
    monkeypatch.setenv("MODELS_FILE", str(DEFAULT_MODELS_FILE))
    return home


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """The warm function's log lines (Powertools' JSON, one object a line)."""
    stream = io.StringIO()
    monkeypatch.setattr(warm_handler.logger.registered_handler, "stream", stream)
    return stream


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def answer_offline(monkeypatch: pytest.MonkeyPatch, name: str, text: str) -> dict[str, Any]:
    """The model function's answer from the cache alone, as a fresh container with ``HF_HUB_OFFLINE=1``."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MODEL_NAME", name)
    model_handler._spec.cache_clear()
    model_handler._runner = LoadOnce(model_handler._load)
    try:
        return model_handler.handler({"text": text})
    finally:
        model_handler._spec.cache_clear()
        model_handler._runner = LoadOnce(model_handler._load)


@pytest.mark.slow
def test_create_fills_the_cache_and_the_model_then_answers_offline(
    hub: FakeHub, efs: Path, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.use(monkeypatch)
    hub.clear()
    result = warm_handler.handler(resource_event("Create"), context())
    assert result["PhysicalResourceId"] == f"warm-{ENTRY}"
    folder = Path(result["Data"]["Folder"])
    assert folder.is_relative_to(efs / "conversions") and (folder / "warm.json").is_file()
    assert result["Data"]["Refused"] == ""
    assert hub.calls("GET", "/resolve/"), "it downloaded from the Hub"

    records = lines(logs)
    assert {record["entry"] for record in records} == {ENTRY}
    steps = [record.get("step") for record in records]
    assert steps[0] == "warm" and steps[-1] == "ready"
    assert all(record["level"] == "INFO" for record in records)
    assert any("converting for onnx" in record["message"] for record in records)

    hub.clear()
    answer = answer_offline(monkeypatch, ENTRY, "I love how quickly this team ships.")
    assert "error" not in answer, answer
    assert answer["model"] == ENTRY and answer["result"]
    assert hub.calls() == [], "the first request never reaches the Hub"


@pytest.mark.slow
def test_an_update_of_a_warm_entry_downloads_nothing_again(
    hub: FakeHub, efs: Path, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.use(monkeypatch)
    warm_handler.handler(resource_event("Create"), context())
    hub.clear()
    result = warm_handler.handler(resource_event("Update"), context())
    assert result["PhysicalResourceId"] == f"warm-{ENTRY}"
    assert not hub.calls("GET", "/resolve/")


def test_delete_keeps_the_cache_and_asks_nothing(
    hub: FakeHub, efs: Path, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.use(monkeypatch)
    hub.clear()
    (efs / "kept").write_text("still here")
    result = warm_handler.handler(resource_event("Delete"), context())
    assert result == {"PhysicalResourceId": f"warm-{ENTRY}"}
    assert (efs / "kept").read_text() == "still here"
    assert hub.calls() == []
    (record,) = lines(logs)
    assert record["step"] == "delete" and record["entry"] == ENTRY


def test_an_unreachable_hub_fails_naming_the_entry_and_the_reason(
    hub: FakeHub, efs: Path, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeHub() as gone:
        url = gone.url
    with pytest.MonkeyPatch.context() as patch:
        hub.use(patch)
        patch.setenv("HF_ENDPOINT", url)
        from huggingface_hub import constants

        patch.setattr(constants, "ENDPOINT", url)
        patch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")
        with pytest.raises(warm_handler.WarmFailed) as failure:
            warm_handler.handler(resource_event("Create"), context())
    message = str(failure.value)
    assert message.startswith(f"{ENTRY}: cannot download distilbert/distilbert-base-uncased-finetuned-sst-2-english")
    assert "cannot reach the Hugging Face Hub" in message
    assert lines(logs)[-1]["level"] == "ERROR" and lines(logs)[-1]["step"] == "failed"


@pytest.mark.slow
def test_a_refused_conversion_fails_and_says_the_entry_would_fall_back_on_torch(
    hub: FakeHub, efs: Path, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.use(monkeypatch)
    converter = importlib.import_module(BACKENDS["onnx"].converter or "")

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise ConversionRefused("DistilBertForSequenceClassification is not exported here")

    monkeypatch.setattr(converter, "convert", refuse)
    with pytest.raises(warm_handler.WarmFailed) as failure:
        warm_handler.handler(resource_event("Create"), context())
    message = str(failure.value)
    assert message.startswith(f"{ENTRY}: onnx cannot serve it (DistilBertForSequenceClassification is not exported")
    assert "served with torch" in message and "set `backend: torch` on sentiment" in message
    assert any("served with torch" in record["message"] for record in lines(logs))


def test_a_stack_and_an_image_from_different_registries_are_refused(efs: Path, logs: io.StringIO) -> None:
    with pytest.raises(warm_handler.WarmFailed, match=r"^sentiment: the stack asks for revision '1111"):
        warm_handler.handler(resource_event("Create", Revision="1" * 40), context())
    with pytest.raises(warm_handler.WarmFailed, match=r"^nope: not in this image's registry"):
        warm_handler.handler(resource_event("Create", Entry="nope"), context())


def test_the_work_stops_before_lambdas_limit_and_says_the_next_deploy_resumes(
    efs: Path, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(warm_handler, "warm", lambda spec, source=None: time.sleep(5) or {})
    started = time.monotonic()
    with pytest.raises(warm_handler.WarmFailed, match=r"^sentiment: not finished after .* next deploy resumes it"):
        warm_handler.handler(resource_event("Create"), context(seconds=warm_handler.MARGIN_SECONDS + 1))
    assert time.monotonic() - started < 4


def test_offline_without_a_warm_source_it_only_checks_and_says_how_to_fill_the_cache(
    efs: Path, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(warm_handler.WarmFailed) as failure:
        warm_handler.handler(resource_event("Create"), context())
    message = str(failure.value)
    assert message.startswith(f"{ENTRY}: distilbert/distilbert-base-uncased-finetuned-sst-2-english@714eb0f is not in")
    assert "the stack's warm step fills the cache" in message, "the loader's own words"
    assert "python -m inference warm --to-s3 s3://BUCKET/PREFIX sentiment" in message
    assert "-c warm_source=s3://BUCKET/PREFIX" in message


@pytest.mark.slow
def test_an_offline_warm_step_finds_a_cache_an_online_one_filled(
    hub: FakeHub, efs: Path, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    # huggingface_hub's list of the revision's files (trees/<revision>.json) names files warm never fetched
    # (sentiment's pytorch_model.bin beside its safetensors); offline, the check must not call that incomplete.
    with pytest.MonkeyPatch.context() as online:
        hub.use(online)
        warm_handler.handler(resource_event("Create"), context())
    assert list(efs.glob("hub/models--*/trees/*.json"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = warm_handler.handler(resource_event("Update"), context())
    assert result["PhysicalResourceId"] == f"warm-{ENTRY}"


def test_a_warm_that_ran_out_of_time_is_stopped_so_a_reused_container_runs_only_the_next_entry(
    efs: Path, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lambda may reuse this container for the next entry: nothing of the abandoned warm may go on meanwhile.
    marker = efs / "written-after-the-deadline"

    def slow(spec: Any, source: Any = None) -> dict[str, Any]:
        time.sleep(3)
        marker.write_text(spec.name)
        return {}

    monkeypatch.setattr(warm_handler, "warm", slow)
    with pytest.raises(warm_handler.WarmFailed, match=r"^sentiment: not finished .* so it was stopped"):
        warm_handler.handler(resource_event("Create"), context(seconds=warm_handler.MARGIN_SECONDS + 1))
    assert multiprocessing.active_children() == [], "the warm process was killed, not left running"
    monkeypatch.setattr(warm_handler, "warm", lambda spec, source=None: {"Folder": f"/next/{spec.name}"})
    assert warm_handler.handler(resource_event("Create", "ask"), context())["Data"] == {"Folder": "/next/ask"}
    time.sleep(3)
    assert not marker.exists(), "the first entry's warm never resumed"
    assert lines(logs)[0]["step"] == "failed" and lines(logs)[0]["level"] == "ERROR"


def test_a_warm_process_that_answered_but_does_not_end_is_stopped_too(
    efs: Path, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    def answers_and_hangs(spec: Any, source: Any = None) -> dict[str, Any]:
        threading.Thread(target=time.sleep, args=(120,)).start()  # not a daemon: the process waits for it
        return {"Folder": "/x"}

    monkeypatch.setattr(warm_handler, "warm", answers_and_hangs)
    monkeypatch.setattr(warm_handler, "KILL_WAIT_SECONDS", 1.0)
    started = time.monotonic()
    assert warm_handler.handler(resource_event("Create"), context())["Data"] == {"Folder": "/x"}
    assert time.monotonic() - started < 10
    assert multiprocessing.active_children() == []


def test_a_warm_process_that_dies_is_a_failure_naming_the_entry(
    efs: Path, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(warm_handler, "warm", lambda spec, source=None: os._exit(137))
    with pytest.raises(warm_handler.WarmFailed, match=r"^sentiment: the warm process ended without an answer .*137"):
        warm_handler.handler(resource_event("Create"), context())


# -- the Hub token of -c hf_token_secret ---------------------------------------------------------------------

TOKEN = "hf_FAKEtokenForTheWarmStep0123456789"


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Secrets Manager (moto) in eu-west-1, with fake credentials."""
    from moto import mock_aws

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv(warm_handler.HF_TOKEN_ENV, raising=False)
    with mock_aws():
        import boto3

        yield boto3.client("secretsmanager")


def test_without_a_secret_there_is_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(warm_handler.TOKEN_SECRET_ENV, raising=False)
    assert warm_handler.hub_token(ENTRY) is None


def test_the_token_is_read_from_the_secret_the_environment_names(secrets: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = secrets.create_secret(Name="hf/token", SecretString=f"{TOKEN}\n")
    as_json = secrets.create_secret(Name="hf/json", SecretString=json.dumps({"HF_TOKEN": TOKEN, "other": "x"}))
    for secret_id in ("hf/token", plain["ARN"], as_json["ARN"]):
        monkeypatch.setenv(warm_handler.TOKEN_SECRET_ENV, secret_id)
        assert warm_handler.hub_token(ENTRY) == TOKEN


@pytest.mark.parametrize(
    ("stored", "said"),
    [
        (None, r"^sentiment: cannot read the Hub token from the secret hf/token \(ResourceNotFoundException"),
        ("", r"^sentiment: the secret hf/token is empty; put the token in it: aws secretsmanager put-secret-value"),
        ('{"token": "x"}', r"^sentiment: the secret hf/token is JSON without a HF_TOKEN key"),
    ],
)
def test_a_secret_without_a_token_fails_naming_the_entry_and_the_secret(
    secrets: Any, monkeypatch: pytest.MonkeyPatch, stored: str | None, said: str
) -> None:
    if stored is not None:
        secrets.create_secret(Name="hf/token", SecretString=stored or " ")
    monkeypatch.setenv(warm_handler.TOKEN_SECRET_ENV, "hf/token")
    with pytest.raises(warm_handler.WarmFailed, match=said):
        warm_handler.hub_token(ENTRY)


def test_the_token_reaches_huggingface_hub_in_the_warm_process_only_and_never_a_log_or_a_failure(
    secrets: Any, efs: Path, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets.create_secret(Name="hf/token", SecretString=TOKEN)
    monkeypatch.setenv(warm_handler.TOKEN_SECRET_ENV, "hf/token")

    def leaky(spec: Any, source: Any = None) -> dict[str, Any]:
        from huggingface_hub import get_token

        assert get_token() == TOKEN, "huggingface_hub reads it from the warm process's environment"
        warm_handler.logger.info(f"token {get_token()}", extra={"step": "warm", "headers": {"auth": get_token()}})
        logging.getLogger("huggingface_hub").warning("sent Authorization: Bearer %s", get_token())
        try:
            raise ValueError(f"the Hub refused {get_token()}")
        except ValueError:
            warm_handler.logger.exception("failed once", extra={"step": "warm"})
        raise ModelLoadError(f"{spec.name}: cannot download it with {get_token()}")

    monkeypatch.setattr(warm_handler, "warm", leaky)
    with pytest.raises(warm_handler.WarmFailed) as failure:
        warm_handler.handler(resource_event("Create"), context())
    assert str(failure.value) == f"{ENTRY}: cannot download it with ***", "what CloudFormation shows and keeps"
    text = logs.getvalue()
    assert TOKEN not in text and text.count("***") >= 4
    assert any(record.get("exception") for record in lines(logs)), "the exception is logged, redacted"
    assert warm_handler.HF_TOKEN_ENV not in os.environ, "this process's environment never holds it"


@pytest.mark.slow
def test_a_gated_model_warms_with_the_token_from_its_secret_and_fails_without_it(
    secrets: Any, efs: Path, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with FakeHub(token=TOKEN) as gated:
        folders = publish(gated, tmp_path / "repos", [ENTRY])
        spec = load_registry(DEFAULT_MODELS_FILE).get(ENTRY)
        # A later commit gates the repository (the gate is the repository's); the entry's pin stays the same.
        gated.add_repo(spec.model, folders[ENTRY], revision="e" * 40, gated=True)
        gated.use(monkeypatch)
        monkeypatch.delenv(warm_handler.TOKEN_SECRET_ENV, raising=False)
        with pytest.raises(warm_handler.WarmFailed, match=r"^sentiment: cannot download .* the repository is gated"):
            warm_handler.handler(resource_event("Create"), context())

        secrets.create_secret(Name="hf/token", SecretString=TOKEN)
        monkeypatch.setenv(warm_handler.TOKEN_SECRET_ENV, "hf/token")
        result = warm_handler.handler(resource_event("Create"), context())
        assert (Path(result["Data"]["Folder"]) / "warm.json").is_file()
        assert gated.calls("GET", "/resolve/")
    assert TOKEN not in logs.getvalue()
    assert answer_offline(monkeypatch, ENTRY, "I love it.")["result"], "the model answers offline, with no token"
