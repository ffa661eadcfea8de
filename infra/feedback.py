"""The feedback table: every delivered answer, the votes and comments on it, and per-model tallies.

The router writes and reads it (``bot/stores/feedback.py``, ``DynamoFeedbackStore``);
``python -m bot feedback export`` scans it with an operator's own credentials,
so the router is never allowed to read the whole table.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from bot.core.config import FEEDBACK_TABLE

PARTITION_KEY = "pk"
SORT_KEY = "sk"
#: Exactly what ``DynamoFeedbackStore`` calls from the router: record an answer (PutItem), read it
#: (GetItem), set a vote or comment and adjust a tally (UpdateItem), count an answer's votes (Query),
#: and read every model's tally for the App Home tab (BatchGetItem). Its Scan is the export's alone.
ROUTER_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:Query",
    "dynamodb:BatchGetItem",
)


class FeedbackTable(Construct):
    """An on-demand table keyed by ``pk`` (request id or ``model#<name>``) and ``sk`` (``answer``, ``vote#<voter>``, ``tally``).

    Encrypted with the AWS managed key (``aws/dynamodb``): every use of it is in
    CloudTrail, and unlike a customer managed key it needs no key policy, no
    KMS grants for the router or for whoever exports, and no monthly fee.
    cdk-nag's AwsSolutions pack asks for point-in-time recovery, not for a
    customer managed key.

    Attributes:
        table: the table; its name is the router's ``FEEDBACK_TABLE``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=removal_policy,
        )

    def use_from(self, function: lambda_.Function) -> None:
        """Tell ``function`` (the router) the table's name and allow it exactly ``ROUTER_ACTIONS`` on it."""
        function.add_environment(FEEDBACK_TABLE, self.table.table_name)
        function.add_to_role_policy(
            iam.PolicyStatement(sid="UseFeedbackTable", actions=list(ROUTER_ACTIONS), resources=[self.table.table_arn])
        )
