"""The model functions: one per registry entry, sized by it, on the cache, answering to the router."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from inference.errors import RegistryError
from inference.media_store import MEDIA_BUCKET_ENV
from inference.registry import DEFAULT_MODELS_FILE, ModelSpec, Registry
from inference.tasks import media_kind
from infra.network import MOUNT_PATH
from infra.settings import Settings
from infra.stack import HfSlackBotStack
from tests.fakes.specs import model_spec
from tests.infra.conftest import EXTRA_MODEL, Synthesis


def router_arn(synth: Synthesis) -> dict:
    return {"Fn::GetAtt": [synth.logical_id(synth.stack.router.function), "Arn"]}


def test_one_function_per_registry_entry(synth: Synthesis) -> None:
    assert sorted(synth.model_functions()) == sorted(synth.registry.names)
    assert len(synth.model_functions()) == len(synth.registry)


def test_each_function_has_its_entrys_size_name_and_environment(synth: Synthesis) -> None:
    functions = synth.model_functions()
    for spec in synth.registry:
        properties = functions[spec.name]["Properties"]
        streams = spec.task == "text-generation"
        reads = media_kind(spec.task) is not None
        assert properties["FunctionName"] == f"{synth.settings.prefix}-{spec.name}"
        assert properties["MemorySize"] == spec.memory
        assert properties["Timeout"] == spec.timeout
        assert properties["Architectures"] == ["x86_64"]
        assert properties["Environment"]["Variables"] == {
            "MODEL_NAME": spec.name,
            "HF_HOME": MOUNT_PATH,
            "HF_HUB_OFFLINE": "1",
            "POWERTOOLS_SERVICE_NAME": f"model-{spec.name}",
            # A model that streams names the router its partial answers go to (tests/infra/test_streaming.py).
            **({"PARTIALS_FUNCTION": {"Ref": synth.logical_id(synth.stack.router.function)}} if streams else {}),
            # A model that reads files names the media bucket (tests/infra/test_media.py).
            **({MEDIA_BUCKET_ENV: {"Ref": synth.logical_id(synth.stack.media.bucket)}} if reads else {}),
        }


def test_every_function_mounts_the_cache_through_the_access_point_in_the_vpc(synth: Synthesis) -> None:
    access_point = synth.logical_id(synth.stack.network.access_point)
    security_group = synth.logical_id(synth.stack.network.function_security_group)
    for properties in (f["Properties"] for f in synth.model_functions().values()):
        (mount,) = properties["FileSystemConfigs"]
        assert mount["LocalMountPath"] == MOUNT_PATH
        assert {"Ref": access_point} in mount["Arn"]["Fn::Join"][1]
        assert properties["VpcConfig"]["SecurityGroupIds"] == [{"Fn::GetAtt": [security_group, "GroupId"]}]
        assert len(properties["VpcConfig"]["SubnetIds"]) == 2


def _image_of_each_function(synth: Synthesis) -> dict[str, dict[str, Any]]:
    """Registry name -> the image asset (as the asset manifest lists it) its function runs, found by its tag."""
    images = {image["source"]["directory"].removeprefix("asset."): image for image in synth.docker_images()}
    found = {}
    for name, function in synth.model_functions().items():
        tag = function["Properties"]["Code"]["ImageUri"]["Fn::Sub"].rpartition(":")[2]
        found[name] = images[tag]
    return found


def test_each_function_runs_its_backends_image_which_synthesis_does_not_build(synth: Synthesis) -> None:
    images = _image_of_each_function(synth)
    for spec in synth.registry:
        image = images[spec.name]
        # A build context staged for `cdk deploy` to build, not an image.
        assert image["source"]["directory"].startswith("asset."), spec.name
        assert image["source"]["platform"] == "linux/amd64"
        expected = "Dockerfile.convert" if spec.backend == "torch" else "Dockerfile"
        assert image["source"]["dockerFile"] == expected, spec.name
        assert synth.stack.models.images[spec.name] == expected
    # The warm step runs the conversion image whatever the registry: both are built, once each.
    assert sorted(image["source"]["dockerFile"] for image in synth.docker_images()) == [
        "Dockerfile",
        "Dockerfile.convert",
    ]


def test_each_entry_picks_its_backends_image(tmp_path: Path) -> None:
    entries = [
        model_spec("sentiment", backend="onnx", quantize="int8"),
        model_spec("qa", task="question-answering", backend="onnx"),
    ]
    stack = HfSlackBotStack(
        App(), "Fast", settings=Settings(), registry=Registry(models=tuple(entries), path=DEFAULT_MODELS_FILE)
    )
    assert set(stack.models.images.values()) == {"Dockerfile"}
    mixed = Registry(models=(*entries, model_spec("old", backend="torch")), path=DEFAULT_MODELS_FILE)
    stack = HfSlackBotStack(App(), "Mixed", settings=Settings(), registry=mixed)
    assert stack.models.images == {"sentiment": "Dockerfile", "qa": "Dockerfile", "old": "Dockerfile.convert"}


def test_results_and_failures_go_to_the_router_within_slacks_window(synth: Synthesis) -> None:
    configs = synth.resources("AWS::Lambda::EventInvokeConfig")
    by_function = {c["Properties"]["FunctionName"]["Ref"]: c["Properties"] for c in configs.values()}
    functions = synth.resources("AWS::Lambda::Function")
    for name, function in synth.model_functions().items():
        (logical_id,) = [key for key, value in functions.items() if value is function]
        config = by_function[logical_id]
        assert config["MaximumRetryAttempts"] == 1, name
        assert config["MaximumEventAgeInSeconds"] == 30 * 60, name
        assert config["DestinationConfig"] == {
            "OnSuccess": {"Destination": router_arn(synth)},
            "OnFailure": {"Destination": router_arn(synth)},
        }, name


def test_a_new_registry_entry_adds_a_function(synth: Synthesis, variant: Synthesis) -> None:
    assert set(variant.model_functions()) == {*synth.model_functions(), EXTRA_MODEL["name"]}
    properties = variant.model_functions()[EXTRA_MODEL["name"]]["Properties"]
    assert properties["FunctionName"] == f"{variant.settings.prefix}-{EXTRA_MODEL['name']}"
    assert properties["MemorySize"] == EXTRA_MODEL["memory"]
    assert properties["Timeout"] == EXTRA_MODEL["timeout"]


def test_the_image_of_another_registry_holds_that_registry(variant: Synthesis) -> None:
    image = _image_of_each_function(variant)[EXTRA_MODEL["name"]]
    context = Path(variant.assembly.directory) / image["source"]["directory"]
    assert (context / "models.yaml").read_bytes() == variant.registry.path.read_bytes()
    assert (context / "handler.py").is_file()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (model_spec("router"), "named 'router'"),
        (model_spec("warm"), "named 'warm'"),
        (model_spec(folder=Path("/models/tiny")), "local folder /models/tiny"),
    ],
)
def test_entries_that_could_not_run_in_aws_are_refused(entry: ModelSpec, message: str, tmp_path: Path) -> None:
    registry = Registry(models=(entry,), path=tmp_path / "models.yaml")
    with pytest.raises(RegistryError, match=message):
        HfSlackBotStack(App(), "Refused", settings=Settings(), registry=registry)
