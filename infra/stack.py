"""The stack: composes the constructs, one per concern, and publishes what a deployer needs."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Fn, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from bot.core.commands import slash_commands
from inference.errors import RegistryError
from inference.registry import RESERVED_NAMES, RESERVED_WHY, Registry
from inference.tasks import media_kind
from infra.api import FORM_PATH, SLACK_EVENTS_PATH, RouterApi
from infra.bundling import model_image_context, router_bundle
from infra.dashboard import Dashboard
from infra.feedback import FeedbackTable
from infra.media import MediaBucket, reads_files
from infra.models import ModelFunctions
from infra.monitoring import Monitoring
from infra.network import ModelNetwork
from infra.router import Router, fill_secret_command
from infra.settings import LOG_RETENTION, Settings
from infra.warm import WarmStep

ROUTER = "router"
#: CloudFormation's limit on an output's description (the Output data type: 1 to 1,024 characters).
OUTPUT_DESCRIPTION_LIMIT = 1024
SLACK_COMMANDS_DESCRIPTION = (
    "The Slack app's slash commands, in manifest order. When this list changed, re-import the manifest: "
    "python -m bot manifest --url <ApiUrl> > manifest.yaml, paste it into the app's App Manifest page "
    "and reinstall the app when Slack asks"
)
#: The warm function's name is ``<prefix>-warm``; no model may take it (``ROUTER`` and it are in RESERVED_NAMES).
WARM = "warm"


def _check_deployable(registry: Registry) -> None:
    """Refuse entries that would synthesize but could never run in AWS.

    Raises:
        RegistryError: naming the entry.
    """
    for name in registry.names:
        # The registry refuses these when it reads a file; a Registry built in code is checked here, by the same list.
        if name in RESERVED_NAMES:
            raise RegistryError(f"a model may not be named {name!r}: it is reserved ({RESERVED_WHY})")
    for spec in registry:
        if spec.local_path is not None:
            raise RegistryError(
                f"{spec.name}: the model is the local folder {spec.local_path}, which a Lambda function cannot read; "
                "deployed entries need a Hub id and revision (their weights are cached on EFS)"
            )


class HfSlackBotStack(Stack):
    """Everything the bot runs on, built from ``registry``.

    Attributes:
        router, feedback, network, warm, models, api, monitoring, dashboard: the constructs, for tests and extensions.
        media: the media bucket, or None when no entry's task reads a file.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        registry: Registry,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="A Slack bot serving Hugging Face models from AWS Lambda (hf-slack-lambda)",
            **kwargs,
        )
        _check_deployable(registry)
        stateful = {"removal_policy": settings.removal_policy, "log_retention": LOG_RETENTION}

        self.monitoring = Monitoring(self, "Monitoring", alarm_topic_arn=settings.alarm_topic_arn)
        self.router = Router(
            self,
            "Router",
            code=lambda_.Code.from_asset(str(router_bundle(registry.path))),
            function_name=settings.function_name(ROUTER),
            function_prefix=settings.prefix,
            model_function_names=[settings.function_name(name) for name in registry.names],
            failure_queue=self.monitoring.failure_queue,
            **stateful,
        )
        self.feedback = FeedbackTable(self, "Feedback", removal_policy=settings.removal_policy)
        self.feedback.use_from(self.router.function)
        self.network = ModelNetwork(
            self, "Network", nat_gateways=settings.nat_gateways, offline=settings.offline, **stateful
        )
        image_directory = model_image_context(registry.path)
        self.warm = WarmStep(
            self,
            "Warm",
            registry=registry,
            function_name=settings.function_name(WARM),
            image_directory=image_directory,
            network=self.network,
            offline=settings.offline,
            source=settings.warm_source,
            memory_mb=settings.warm_memory,
            token_secret=settings.hf_token_secret,
            **stateful,
        )
        self.models = ModelFunctions(
            self,
            "Models",
            registry=registry,
            function_name=settings.function_name,
            image_directory=image_directory,
            network=self.network,
            results_to=self.router.function,
            reserved_concurrency=settings.model_concurrency,
            **stateful,
        )
        for name, function in self.models.functions.items():
            # Created or changed only once the deploy's warm step has filled its entry's cache.
            function.node.add_dependency(self.warm.resources[name])
        self.media: MediaBucket | None = None
        if reads_files(registry):
            self.media = MediaBucket(self, "Media", network=self.network, **stateful)
            self.media.use_from_router(self.router.function)
            for spec in registry:
                if media_kind(spec.task) is not None:
                    self.media.use_from_model(self.models.functions[spec.name])
        self.api = RouterApi(
            self,
            "Api",
            handler=self.router.function,
            throttle_rate=settings.throttle_rate,
            throttle_burst=settings.throttle_burst,
            **stateful,
        )
        self.monitoring.watch_function(self.router.function, ROUTER)
        for spec in registry:
            self.monitoring.watch_function(self.models.functions[spec.name], spec.name)
            self.monitoring.watch_error_rate(spec)
        self.dashboard = Dashboard(
            self,
            "Dashboard",
            name=settings.stack_name,
            registry=registry,
            router=self.router.function,
            model_functions=self.models.functions,
            failure_queue=self.monitoring.failure_queue,
        )
        self._outputs(settings, registry)

    def _outputs(self, settings: Settings, registry: Registry) -> None:
        secret = self.router.secret
        outputs = {
            "ApiUrl": (self.api.rest_api.url, "Base URL of the API"),
            "FormUrl": (self.api.url_for(FORM_PATH), "The /go form, for people without Slack"),
            "SlackRequestUrl": (self.api.url_for(SLACK_EVENTS_PATH), "Request URL for the Slack app's manifest"),
            "SlackCommands": (" ".join(slash_commands(registry)), SLACK_COMMANDS_DESCRIPTION),
            "SecretName": (secret.secret_name, "Holds the Slack bot token, signing secret and /go passcode"),
            "FillSecretCommand": (fill_secret_command(secret, Aws.REGION), "Run once with your Slack app's values"),
            "ModelFunctionPrefix": (settings.prefix, "Every function's name starts with this and a '-'"),
            "FeedbackTableName": (
                self.feedback.table.table_name,
                "Votes and comments: FEEDBACK_TABLE=<this> python -m bot feedback export --format csv",
            ),
            "DashboardUrl": (self.dashboard.url, "Requests, errors and latency per entry point and per model"),
            "FileSystemId": (self.network.file_system.file_system_id, "The EFS model cache"),
            "AccessPointId": (self.network.access_point.access_point_id, "Mount the cache through this"),
            "ModelSecurityGroupId": (
                self.network.function_security_group.security_group_id,
                "The model functions' group: NFS to the cache only",
            ),
            "WarmSecurityGroupId": (
                self.warm.security_group.security_group_id,
                "Give this group to a machine that fills the cache: NFS to it, and HTTPS out",
            ),
            "ModelSubnetIds": (Fn.join(",", self.network.subnet_ids), "Subnets that reach the cache"),
        }
        for name, (value, description) in outputs.items():
            CfnOutput(self, name, value=value, description=description)
