"""The deploy's warm step: one custom resource per registry entry, which fills the EFS cache for it.

Each entry's resource carries what its cache depends on (name, Hub id, revision,
backend, quantization, task, and a digest of the runtimes' pins in
``inference/requirements.txt``, by whose versions conversions are keyed).
CloudFormation sends a ``Create`` or ``Update`` only when those change, so an
unchanged entry is not warmed again; entries run side by side, each within one
Lambda invocation. The function (``inference.warm_handler.handler``) runs the
conversion image (torch and transformers convert) in the models' subnets, mounts
the cache through the access point the model functions use, downloads the
pinned snapshot (or, with ``warm_source``, copies it from S3 through the VPC's
gateway endpoint) and converts it; a failure fails the deploy, naming the entry
and the reason (docs/deploy.md says why). Each model function depends on its
entry's resource, so it is created or changed only once its cache is ready.

With ``-c hf_token_secret=NAME_OR_ARN`` (gated or private models) the function
may read that one secret (``secretsmanager:GetSecretValue``; the AWS managed key
needs no ``kms:Decrypt``) and its environment names the secret, never the token,
which the handler reads at each invocation. The model functions never get it:
they only read the cache. An offline stack refuses the setting (its warm step
cannot reach the Hub; infra/settings.py).

We chose a custom resource over ``triggers.Trigger``: a trigger runs again when
its function changes, so either every entry would re-run on any change, or each
entry would need a function of its own; a custom resource is keyed by its
properties, and all entries share one function. CDK's provider framework sends
the response to CloudFormation, so the warm function itself needs no route to
CloudFormation's response bucket (there is none offline).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import cast

from aws_cdk import ArnFormat, CustomResource, Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from inference.registry import ModelSpec, Registry
from infra import nag
from infra.models import VPC_ACCESS_POLICY, cache_mount
from infra.network import HTTPS, MOUNT_PATH, ModelNetwork

RESOURCE_TYPE = "Custom::WarmModelCache"
CONVERSION_IMAGE = "Dockerfile.convert"
HANDLER = "inference.warm_handler.handler"
#: Lambda's limit: one entry's download and conversion must fit in it (the handler stops a minute before).
TIMEOUT = Duration.minutes(15)
#: How long CloudFormation waits for a resource's answer (its default is an hour).
SERVICE_TIMEOUT = Duration.minutes(20)
#: Room for what transformers and the exporters write outside the cache.
EPHEMERAL_STORAGE = Size.gibibytes(10)
#: The runtimes' pins, which conversions are keyed by (inference/conversions.py): a change warms every entry.
PINS_FILE = "requirements.txt"
PINS_DIGEST_LENGTH = 20
#: The S3 actions :func:`inference.s3_cache.restore` needs: ListObjectsV2 and GetObject (with download_file's
#: HeadObject, which GetObject allows).
S3_LIST_ACTIONS = ("s3:ListBucket",)
S3_READ_ACTIONS = ("s3:GetObject",)
#: ``-c hf_token_secret``: the handler's environment names the secret (never the token), and it may only read it.
#: The AWS managed key (aws/secretsmanager) decrypts for whoever may read the secret, so no kms:Decrypt.
TOKEN_SECRET_ENV = "HF_TOKEN_SECRET_ID"  # noqa: S105 (a variable's name, not a secret)
TOKEN_ACTIONS = ("secretsmanager:GetSecretValue",)


def warm_properties(spec: ModelSpec, pins: str) -> dict[str, str]:
    """The custom resource's properties for ``spec``: what its cache depends on, and nothing else.

    ``inference.warm_handler`` reads the same keys and checks them against its image's registry.
    """
    return {
        "Entry": spec.name,
        "Model": spec.model,
        "Revision": spec.revision or "",
        "Backend": spec.backend,
        "Quantize": spec.quantize,
        "Task": spec.task,
        "Pins": pins,
    }


def token_secret_arn(stack: Stack, secret: str) -> str:
    """The ARN to allow for ``hf_token_secret``: the full ARN as given, or a name's ARN in this account and region.

    Secrets Manager ends every secret's ARN with ``-`` and six random characters,
    so a name's ARN ends with ``-??????`` (as CDK's ``Secret.from_secret_name_v2``
    grants it): that name's secret only, not one whose name merely starts with it.
    """
    if secret.startswith("arn:"):
        return secret
    return stack.format_arn(
        service="secretsmanager",
        resource="secret",
        resource_name=f"{secret}-??????",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def pins_digest(image_directory: Path) -> str:
    """A digest of the image's ``requirements.txt`` (the runtimes' versions), for the resources' properties."""
    return hashlib.sha256((image_directory / PINS_FILE).read_bytes()).hexdigest()[:PINS_DIGEST_LENGTH]


class WarmStep(Construct):
    """The warm function, its provider and one custom resource per registry entry.

    Attributes:
        function: the warm function (conversion image, in the VPC, on the cache).
        security_group: its own group: NFS to the cache, and HTTPS out only when it has somewhere to go.
        provider: CDK's provider framework, which invokes ``function`` and answers CloudFormation.
        resources: registry name -> its custom resource; the entry's model function depends on it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        registry: Registry,
        function_name: str,
        image_directory: Path,
        network: ModelNetwork,
        offline: bool,
        source: tuple[str, str] | None,
        memory_mb: int,
        token_secret: str | None = None,
        removal_policy: RemovalPolicy,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=network.vpc,
            description="Warm step of the deploy: NFS to the cache, HTTPS to the Hub or to S3",
            allow_all_outbound=False,
        )
        if not offline or source:
            # Offline, the isolated subnets' only way out is the S3 gateway endpoint's route.
            self.security_group.add_egress_rule(
                ec2.Peer.any_ipv4(),
                ec2.Port.tcp(HTTPS),
                "The Hugging Face Hub (through the NAT gateway) or S3 (through the gateway endpoint)",
            )
        network.file_system.connections.allow_default_port_from(self.security_group, "NFS from the warm step")
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(VPC_ACCESS_POLICY)],
        )
        environment = {
            "HF_HOME": MOUNT_PATH,
            "HF_HUB_OFFLINE": "1" if offline else "0",
            "POWERTOOLS_SERVICE_NAME": "warm",
        }
        if source:
            bucket, prefix = source
            environment["WARM_SOURCE"] = f"s3://{bucket}/{prefix}"
            self._read_source(role, network.add_s3_endpoint(), bucket, prefix)
        if token_secret:
            # Only the secret's name or ARN: the handler reads the token from it at each invocation.
            environment[TOKEN_SECRET_ENV] = token_secret
            self._read_token(role, token_secret)
        self.function = lambda_.DockerImageFunction(
            self,
            "Function",
            role=role,
            function_name=function_name,
            description="Fills the EFS model cache for one registry entry during cdk deploy (inference/warm_handler.py)",
            code=lambda_.DockerImageCode.from_image_asset(
                str(image_directory),
                file=CONVERSION_IMAGE,
                platform=ecr_assets.Platform.LINUX_AMD64,
                cmd=[HANDLER],
            ),
            architecture=lambda_.Architecture.X86_64,
            memory_size=memory_mb,
            ephemeral_storage_size=EPHEMERAL_STORAGE,
            timeout=TIMEOUT,
            vpc=network.vpc,
            vpc_subnets=network.subnets,
            security_groups=[self.security_group],
            filesystem=cache_mount(network, write=True),
            environment=environment,
            # Named as Lambda would name it: the provider framework's failure message points there.
            log_group=logs.LogGroup(
                self,
                "Logs",
                log_group_name=f"/aws/lambda/{function_name}",
                retention=log_retention,
                removal_policy=removal_policy,
            ),
        )
        if source:
            # The route to S3 exists before the first entry is warmed: the warm_source is read through it.
            self.function.node.add_dependency(network.add_s3_endpoint())
        nag.suppress(
            role,
            "IAM4",
            "AWSLambdaVPCAccessExecutionRole is what Lambda needs to create, describe and delete the warm "
            "function's network interfaces in the VPC (EC2 allows describing them only on *); it also lets the "
            "function write its logs.",
            applies_to=[f"Policy::arn:<AWS::Partition>:iam::aws:policy/{VPC_ACCESS_POLICY}"],
        )
        self.provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=self.function,
            log_group=logs.LogGroup(self, "ProviderLogs", retention=log_retention, removal_policy=removal_policy),
        )
        self._accept_provider_findings()
        pins = pins_digest(image_directory)
        self.resources: dict[str, CustomResource] = {
            spec.name: CustomResource(
                self,
                spec.name,
                service_token=self.provider.service_token,
                resource_type=RESOURCE_TYPE,
                properties=warm_properties(spec, pins),
                # The framework answers within its own 15 minutes; past this, CloudFormation stops waiting.
                service_timeout=SERVICE_TIMEOUT,
            )
            for spec in registry
        }

    def _read_token(self, role: iam.Role, secret: str) -> None:
        """Read the Hub token's secret, and nothing else of Secrets Manager (:func:`token_secret_arn`)."""
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadHubToken",
                actions=list(TOKEN_ACTIONS),
                resources=[token_secret_arn(Stack.of(self), secret)],
            )
        )

    def _read_source(self, role: iam.Role, endpoint: ec2.GatewayVpcEndpoint, bucket: str, prefix: str) -> None:
        """List and read ``s3://bucket/prefix/`` only: the role may, and the VPC's S3 endpoint lets it through."""
        partition = Stack.of(self).partition
        objects = f"arn:{partition}:s3:::{bucket}/{prefix}/*"
        for principals, add in (([], role.add_to_policy), ([iam.AnyPrincipal()], endpoint.add_to_policy)):
            add(
                iam.PolicyStatement(
                    sid="ListWarmSource",
                    principals=principals,
                    actions=list(S3_LIST_ACTIONS),
                    resources=[f"arn:{partition}:s3:::{bucket}"],
                    conditions={"StringLike": {"s3:prefix": [f"{prefix}/*"]}},
                )
            )
            add(
                iam.PolicyStatement(
                    sid="ReadWarmSource", principals=principals, actions=list(S3_READ_ACTIONS), resources=[objects]
                )
            )
        nag.suppress(
            role,
            "IAM5",
            f"The warm step copies every object under the warm_source prefix s3://{bucket}/{prefix}/ (the cache "
            "files python -m inference warm --to-s3 put there); their names are only known at run time.",
            applies_to=[f"Resource::arn:<AWS::Partition>:s3:::{bucket}/{prefix}/*"],
            children=True,
        )

    def _accept_provider_findings(self) -> None:
        """cdk-nag's findings on CDK's provider framework, which this stack does not write."""
        framework = self.provider.node.find_child("framework-onEvent")
        nag.suppress(
            framework,
            "IAM4",
            "CDK's provider framework function uses AWSLambdaBasicExecutionRole to write its own logs only.",
            applies_to=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
            children=True,
        )
        nag.suppress(
            framework,
            "IAM5",
            "CDK's provider framework may invoke the warm function's versions and aliases (<arn>:*); it invokes "
            "the unqualified function only.",
            applies_to=[f"Resource::<{Stack.of(self).get_logical_id(self._function_resource())}.Arn>:*"],
            children=True,
        )
        nag.suppress(
            framework,
            "L1",
            "CDK's provider framework chooses its own Node.js runtime, and updates it with aws-cdk-lib.",
            children=True,
        )

    def _function_resource(self) -> lambda_.CfnFunction:
        return cast(lambda_.CfnFunction, self.function.node.default_child)
