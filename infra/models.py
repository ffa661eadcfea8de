"""One container-image Lambda per registry entry, all from the one model image.

Each function mounts the EFS cache, runs with its entry's memory and timeout,
and hands every asynchronous result, success or failure, to the router.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

from aws_cdk import CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from constructs import Construct

from inference.registry import ModelSpec, Registry
from infra import nag
from infra.network import MOUNT_PATH, ModelNetwork

#: One retry covers a cold start that ran out of time; more would only post late.
RETRY_ATTEMPTS = 1
#: Slack's response_url stops accepting answers after 30 minutes.
MAX_EVENT_AGE = Duration.minutes(30)
DESCRIPTION_LIMIT = 256


def _description(spec: ModelSpec) -> str:
    pin = f"@{spec.revision}" if spec.revision else ""
    return f"{spec.title}: {spec.task} with {spec.model}{pin}"[:DESCRIPTION_LIMIT]


class ModelFunctions(Construct):
    """The model functions, in registry order.

    Attributes:
        functions: registry name -> its function.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        registry: Registry,
        function_name: Callable[[str], str],
        image_directory: Path,
        network: ModelNetwork,
        results_to: lambda_.IFunction,
        offline: bool,
        removal_policy: RemovalPolicy,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        # One code object, so every function shares one image asset (built at deploy time, not at synth);
        # inference/.dockerignore keeps caches out of it.
        image = lambda_.DockerImageCode.from_image_asset(str(image_directory), platform=ecr_assets.Platform.LINUX_AMD64)
        # The whole result event (request context included) goes to the router, which finds the Slack thread in it.
        to_router = destinations.LambdaDestination(results_to, response_only=False)
        # How cdk-nag names the grant's "<router ARN>:*" resource, to accept exactly that wildcard.
        router_id = Stack.of(self).resolve(cast(CfnResource, results_to.node.default_child).logical_id)
        cache = lambda_.FileSystem.from_efs_access_point(network.access_point, MOUNT_PATH)
        self.functions: dict[str, lambda_.DockerImageFunction] = {}
        for spec in registry:
            model = Construct(self, spec.name)
            environment = {
                "MODEL_NAME": spec.name,
                "HF_HOME": MOUNT_PATH,
                # Set either way: the image's own default is offline.
                "HF_HUB_OFFLINE": "1" if offline else "0",
                "POWERTOOLS_SERVICE_NAME": f"model-{spec.name}",
            }
            function = lambda_.DockerImageFunction(
                model,
                "Function",
                function_name=function_name(spec.name),
                description=_description(spec),
                code=image,
                architecture=lambda_.Architecture.X86_64,
                memory_size=spec.memory,
                timeout=Duration.seconds(spec.timeout),
                vpc=network.vpc,
                vpc_subnets=network.subnets,
                security_groups=[network.function_security_group],
                filesystem=cache,
                environment=environment,
                tracing=lambda_.Tracing.ACTIVE,
                log_group=logs.LogGroup(model, "Logs", retention=log_retention, removal_policy=removal_policy),
            )
            function.configure_async_invoke(
                retry_attempts=RETRY_ATTEMPTS,
                max_event_age=MAX_EVENT_AGE,
                on_success=to_router,
                on_failure=to_router,
            )
            nag.suppress(
                function,
                "IAM4",
                "The AWS-managed Lambda execution policies only let the function write its own logs and "
                "create the network interfaces it needs in the VPC.",
                applies_to=[
                    "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                    "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
                ],
                children=True,
            )
            nag.suppress(
                function,
                "IAM5",
                "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions; CDK's EFS "
                "grant puts ClientMount on * under a condition naming the access point; the router's ARN ends "
                "in :* so results also reach a published version of the router.",
                applies_to=["Resource::*", f"Resource::<{router_id}.Arn>:*"],
                children=True,
            )
            self.functions[spec.name] = function
