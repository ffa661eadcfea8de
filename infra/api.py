"""The public HTTPS entry: a REST API that proxies Slack and the ``/go`` form to the router.

Only the routes the router serves exist; everything else is a 403 from API
Gateway that never reaches Lambda. The stage is throttled, traced and logged.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from bot.core.multipart import BINARY_MEDIA_TYPES
from infra import nag

STAGE = "prod"
FORM_PATH = "/go"
SLACK_EVENTS_PATH = "/slack/events"
#: Method and path of every route; ``/go/{proxy+}`` carries the form's sub-pages (``/go/stats``, ...).
ROUTES = (
    ("GET", "/go"),
    ("POST", "/go"),
    ("GET", "/go/{proxy+}"),
    ("POST", "/go/{proxy+}"),
    ("POST", "/slack/events"),
)
NO_AUTHORIZER = (
    "Slack cannot present AWS credentials or Cognito tokens: the router verifies Slack's request signature "
    "on every /slack request, and /go is a public page guarded by the optional passcode."
)


class RouterApi(Construct):
    """The REST API in front of the router.

    Attributes:
        rest_api: the API; ``url`` is its stage's base URL (ending in ``/``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: lambda_.IFunction,
        throttle_rate: float,
        throttle_burst: int,
        removal_policy: RemovalPolicy,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention, removal_policy=removal_policy)
        self.rest_api = apigateway.RestApi(
            self,
            "RestApi",
            rest_api_name=Stack.of(self).stack_name,
            description="Slack events and the /go form, proxied to the router",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # The form's file uploads reach the router as bytes (base64, isBase64Encoded), not as text.
            binary_media_types=list(BINARY_MEDIA_TYPES),
            # Execution logs need the account's API Gateway logging role; it stays if the stack goes,
            # because every REST API in the account and region shares it.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigateway.StageOptions(
                stage_name=STAGE,
                throttling_rate_limit=throttle_rate,
                throttling_burst_limit=throttle_burst,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                # Request bodies hold Slack payloads and form text: never log them.
                data_trace_enabled=False,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
            ),
        )
        integration = apigateway.LambdaIntegration(handler, proxy=True, allow_test_invoke=False)
        for method, path in ROUTES:
            resource = self.rest_api.root.resource_for_path(path)
            created = resource.add_method(method, integration)
            nag.suppress(created, "APIG4", NO_AUTHORIZER)
            nag.suppress(created, "COG4", NO_AUTHORIZER)
        nag.suppress(
            self.rest_api,
            "APIG2",
            "Slack sends form-encoded, signed bodies that an API Gateway model cannot describe; the router "
            "checks the signature and validates every input itself.",
        )
        nag.suppress(
            self.rest_api.deployment_stage,
            "APIG3",
            "Stage throttling bounds the request rate and the router rejects unsigned Slack requests; a WAF web "
            "ACL is an account-level choice left to the deployer.",
        )
        nag.suppress(
            self.rest_api.node.find_child("CloudWatchRole"),
            "IAM4",
            "AmazonAPIGatewayPushToCloudWatchLogs is the policy AWS provides for API Gateway's account-wide "
            "logging role; it only writes CloudWatch logs.",
            applies_to=[
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
            ],
        )

    def url_for(self, path: str) -> str:
        """The full URL of ``path`` on the stage (``/go``, ``/slack/events``)."""
        return self.rest_api.url_for_path(path)
