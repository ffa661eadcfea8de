"""The router function with what only it uses: the Slack secret, the state table, its figures in CloudWatch.

The router answers Slack and the ``/go`` form, invokes the model functions
asynchronously, and receives their results back through Lambda destinations.
It is not in the VPC: it talks only to Slack and to AWS APIs. Its role holds
only what it uses, each as a named statement; it writes its logs to its own
log group only, so it carries no AWS managed policy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from bot.core import config
from bot.core.metrics import NAMESPACE as METRICS_NAMESPACE
from infra import nag
from infra.bundling import REGISTRY_IN_BUNDLE, ROUTER_RUNTIME
from infra.destinations import to_queue

HANDLER = "bot.handler.handler"
MEMORY_MB = 512
TIMEOUT = Duration.seconds(60)
#: Lambda's own retries of the router's asynchronous events (destinations and lazy listeners).
RETRY_ATTEMPTS = 2
MAX_EVENT_AGE = Duration.hours(1)
#: The keys of the Slack secret, created empty; ``FillSecretCommand`` shows how to fill them.
SECRET_KEYS = (config.SLACK_BOT_TOKEN, config.SLACK_SIGNING_SECRET, config.DEMO_PASSCODE)
#: What the command shows for each key: a bot token starts with xoxb-; the passcode may stay empty.
SECRET_PLACEHOLDERS = ("xoxb-...", "...", "")
PARTITION_KEY = "pk"
TTL_ATTRIBUTE = "expires_at"
#: Exactly what ``DynamoStateStore`` calls: claim and complete (PutItem), release (DeleteItem), counters and
#: fields (UpdateItem, GetItem).
TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
#: Exactly what ``CloudWatchStats`` calls to fill /go/stats.
METRICS_ACTIONS = ("cloudwatch:GetMetricData",)


def function_arn(scope: Construct, function_name: str) -> str:
    """The ARN of a function in this stack's account and region, from its explicit name.

    Built from the name rather than taken from the function, so the router's
    policy does not depend on functions that depend on the router.
    """
    return Stack.of(scope).format_arn(
        service="lambda",
        resource="function",
        resource_name=function_name,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


class Router(Construct):
    """The router function, its secret, its state table and its failure destination.

    Attributes:
        function: the router; model functions send their results to it.
        secret: the Slack bot token, signing secret and passcode (created empty).
        table: deduplicates Slack retries and destination events; items expire by ``expires_at``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        function_name: str,
        function_prefix: str,
        model_function_names: Sequence[str],
        failure_queue: sqs.IQueue,
        removal_policy: RemovalPolicy,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        # Deploys never overwrite the values filled in later: CloudFormation updates a
        # secret only when this template value changes, so keep it as it is.
        self.secret = secretsmanager.Secret(
            self,
            "SlackSecret",
            description="The Slack bot token and signing secret, and the optional passcode of the /go form",
            secret_object_value={key: SecretValue.unsafe_plain_text("") for key in SECRET_KEYS},
            removal_policy=removal_policy,
        )
        nag.suppress(
            self.secret,
            "SMG4",
            "Slack issues the bot token and signing secret; they are rotated in Slack's app settings and "
            "then stored here with put-secret-value, which a rotation Lambda cannot do.",
        )
        self.table = dynamodb.Table(
            self,
            "State",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            removal_policy=removal_policy,
        )
        log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=removal_policy)
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            role=role,
            function_name=function_name,
            description="Answers Slack and the /go form, invokes the models and posts their results",
            runtime=ROUTER_RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler=HANDLER,
            code=code,
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            # The names are the router's own (bot/core/config.py), so the two cannot drift apart.
            environment={
                config.SLACK_SECRET_ID: self.secret.secret_arn,
                config.MODEL_FUNCTION_PREFIX: function_prefix,
                config.MODELS_FILE: f"/var/task/{REGISTRY_IN_BUNDLE}",
                config.STATE_TABLE: self.table.table_name,
                config.SERVICE_NAME: config.DEFAULT_SERVICE_NAME,
                config.METRICS_NAMESPACE: METRICS_NAMESPACE,
            },
        )
        self.function.configure_async_invoke(
            retry_attempts=RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
            on_failure=to_queue(failure_queue),
        )
        # Its own name is included: Bolt's lazy listeners re-invoke the router asynchronously.
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                sid="InvokeModelsAndItself",
                actions=["lambda:InvokeFunction"],
                resources=[function_arn(self, name) for name in [*model_function_names, function_name]],
            )
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadSlackSecret", actions=["secretsmanager:GetSecretValue"], resources=[self.secret.secret_arn]
            )
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(sid="UseStateTable", actions=list(TABLE_ACTIONS), resources=[self.table.table_arn])
        )
        nag.accept_xray_wildcard(role)
        self._read_usage_metrics(role)

    def _read_usage_metrics(self, role: iam.IRole) -> None:
        """/go/stats reads the router's own figures back from CloudWatch.

        GetMetricData has no resource-level permissions, and CloudWatch's only metric condition key
        (``cloudwatch:namespace``) applies to PutMetricData alone, so the statement names ``*``; the
        global ``aws:RequestedRegion`` keeps it to the stack's region. Its own policy, so that its
        suppression (and not X-Ray's) is the one that accepts that ``*``.
        """
        policy = iam.Policy(
            self,
            "ReadUsageMetrics",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadUsageMetrics",
                    actions=list(METRICS_ACTIONS),
                    resources=["*"],
                    conditions={"StringEquals": {"aws:RequestedRegion": Stack.of(self).region}},
                )
            ],
        )
        self.function.node.add_dependency(policy)
        nag.suppress(
            policy,
            "IAM5",
            "CloudWatch's GetMetricData has no resource-level permissions and no condition key that names a "
            "namespace; this statement allows only that read, in the stack's own region, for the /go/stats page.",
            applies_to=["Resource::*"],
        )


def fill_secret_command(secret: secretsmanager.ISecret, region: str) -> str:
    """The one command that stores the Slack credentials in ``secret``."""
    template = json.dumps(dict(zip(SECRET_KEYS, SECRET_PLACEHOLDERS, strict=True)), separators=(",", ":"))
    return (
        f"aws secretsmanager put-secret-value --region {region} --secret-id {secret.secret_arn} "
        f"--secret-string '{template}'"
    )
