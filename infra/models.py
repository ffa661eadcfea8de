"""One container-image Lambda per registry entry, from the model image its backend runs.

Entries on a fast backend run the serving image (``inference/Dockerfile``: no
torch, no transformers); ``backend: torch`` entries run the conversion image
(``inference/Dockerfile.convert``), which is built only when an entry needs it.

Each function mounts the EFS cache, runs with its entry's memory and timeout,
and hands every asynchronous result, success or failure, to the router. It runs
with ``HF_HUB_OFFLINE=1`` whether or not the stack is offline: the deploy's warm
step (:mod:`infra.warm`) has filled its entry's cache before the function is
created or changed, so its first request reads EFS only. Its
reserved concurrency is how many requests the model runs at once: a synchronous
(form) call over it is throttled (``TooManyRequestsException``, which the router
answers as 429 "busy"), while an asynchronous (Slack) one waits in Lambda's
queue and is retried there (up to ``MAX_EVENT_AGE``), so Slack is answered late
rather than refused. We chose it over API Gateway's limits because those cannot
tell models apart (every model is one ``POST /go``) or clients apart (usage plans
need API keys, which neither Slack nor a browser sends); the router limits runs
per client itself. Its role may mount the cache read-only through the access point only (serving
never writes to it: only the warm step has ``ClientWrite``, and the file system's own policy grants
no one more than their role does: infra/network.py), invoke the router only, and manage its network
interfaces in the VPC (with the AWS managed policy for that, which also covers writing its logs).
A function whose model streams (text generation) also sends its partial answers to the router
(``PARTIALS_FUNCTION``) by an ``Event`` invoke, through the VPC's Lambda interface endpoint,
which only a registry with such a model pays for.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from inference.backends import BACKENDS
from inference.registry import ModelSpec, Registry
from infra import nag
from infra.destinations import to_function
from infra.network import MOUNT_PATH, ModelNetwork

#: One retry covers a cold start that ran out of time; more would only post late.
RETRY_ATTEMPTS = 1
#: Slack's response_url stops accepting answers after 30 minutes.
MAX_EVENT_AGE = Duration.minutes(30)
DESCRIPTION_LIMIT = 256
#: The tasks whose runners generate a token at a time, and so send partial answers while they write
#: (``inference.runners``' ``streams``): their functions get the router's name and the Lambda endpoint.
STREAMING_TASKS = frozenset({"text-generation"})
#: Creating, describing and deleting the functions' network interfaces in the VPC, and writing logs.
VPC_ACCESS_POLICY = "service-role/AWSLambdaVPCAccessExecutionRole"


def _description(spec: ModelSpec) -> str:
    pin = f"@{spec.revision}" if spec.revision else ""
    return f"{spec.title}: {spec.task} with {spec.model}{pin}"[:DESCRIPTION_LIMIT]


#: Mounting the cache read-only (the model functions), and writing it too (the warm step). Without
#: ``ClientWrite`` EFS refuses every write of the client, whatever the files' permissions.
READ_CACHE = ("elasticfilesystem:ClientMount",)
WRITE_CACHE = (*READ_CACHE, "elasticfilesystem:ClientWrite")


def cache_mount(network: ModelNetwork, *, write: bool = False) -> lambda_.FileSystem:
    """The cache mounted through its access point, allowed on the file system only through that access point.

    Read-only unless ``write`` (the warm step): serving never writes to the cache
    (tests/inference/test_read_only_cache.py). CDK's ``FileSystem.from_efs_access_point``
    allows ``ClientMount`` and ``ClientWrite`` on every file system (``*``, under the
    same condition); EFS accepts the file system's ARN.
    """
    file_system, access_point = network.file_system, network.access_point
    return lambda_.FileSystem(
        arn=access_point.access_point_arn,
        local_mount_path=MOUNT_PATH,
        connections=file_system.connections,
        dependency=[file_system.mount_targets_available],
        policies=[
            iam.PolicyStatement(
                sid="MountCacheThroughAccessPoint" if write else "MountCacheReadOnlyThroughAccessPoint",
                actions=list(WRITE_CACHE if write else READ_CACHE),
                resources=[file_system.file_system_arn],
                conditions={"StringEquals": {"elasticfilesystem:AccessPointArn": access_point.access_point_arn}},
            )
        ],
    )


class ModelFunctions(Construct):
    """The model functions, in registry order.

    Attributes:
        functions: registry name -> its function.
        images: registry name -> the Dockerfile (in ``image_directory``) of the image it runs.
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
        reserved_concurrency: int,
        removal_policy: RemovalPolicy,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        # One code object per image, so the functions of one image share one asset (built at deploy time, not
        # at synth); inference/.dockerignore keeps caches out of it.
        codes: dict[str, lambda_.DockerImageCode] = {}
        # The whole result event (request context included) goes to the router, which finds the Slack thread in it.
        to_router = to_function(results_to)
        cache = cache_mount(network)
        if any(spec.task in STREAMING_TASKS for spec in registry):
            # Partial answers go to the router by an Event invoke through the VPC's Lambda endpoint: the endpoint
            # lets through invoking the router and nothing else.
            network.add_lambda_endpoint().add_to_policy(
                iam.PolicyStatement(
                    principals=[iam.AnyPrincipal()],
                    actions=["lambda:InvokeFunction"],
                    resources=[results_to.function_arn],
                )
            )
        self.functions: dict[str, lambda_.DockerImageFunction] = {}
        self.images: dict[str, str] = {}
        for spec in registry:
            dockerfile = self.images[spec.name] = BACKENDS[spec.backend].image
            if dockerfile not in codes:
                codes[dockerfile] = lambda_.DockerImageCode.from_image_asset(
                    str(image_directory), file=dockerfile, platform=ecr_assets.Platform.LINUX_AMD64
                )
            model = Construct(self, spec.name)
            environment = {
                "MODEL_NAME": spec.name,
                "HF_HOME": MOUNT_PATH,
                # Always: the deploy's warm step filled the cache before this function exists (infra/warm.py),
                # so a request never downloads, and a missing entry is one clear error at once.
                "HF_HUB_OFFLINE": "1",
                "POWERTOOLS_SERVICE_NAME": f"model-{spec.name}",
            }
            if spec.task in STREAMING_TASKS:
                # inference.handler.PARTIALS_FUNCTION_ENV. Sending them needs no grant of its own: the role's
                # SendResultsToFunction (infra/destinations.py) allows exactly this, invoking the router only.
                environment["PARTIALS_FUNCTION"] = results_to.function_name
            role = iam.Role(
                model,
                "Role",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(VPC_ACCESS_POLICY)],
            )
            function = lambda_.DockerImageFunction(
                model,
                "Function",
                role=role,
                function_name=function_name(spec.name),
                description=_description(spec),
                code=codes[dockerfile],
                architecture=lambda_.Architecture.X86_64,
                memory_size=spec.memory,
                timeout=Duration.seconds(spec.timeout),
                reserved_concurrent_executions=reserved_concurrency,
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
                role,
                "IAM4",
                "AWSLambdaVPCAccessExecutionRole is what Lambda needs to create, describe and delete the function's "
                "network interfaces in the VPC (EC2 allows describing them only on *); it also lets the function "
                "write its logs.",
                applies_to=[f"Policy::arn:<AWS::Partition>:iam::aws:policy/{VPC_ACCESS_POLICY}"],
            )
            nag.accept_xray_wildcard(role)
            self.functions[spec.name] = function
