"""Asynchronous-invocation destinations that grant exactly what delivery needs.

CDK's own destinations grant more than Lambda uses to deliver: ``LambdaDestination``
allows invoking every version and alias of the target (``<arn>:*``), and
``SqsDestination`` adds ``GetQueueAttributes`` and ``GetQueueUrl``. Lambda sends
a record with the function's role, to the unqualified ARN given here, with
``lambda:InvokeFunction`` or ``sqs:SendMessage`` alone.
"""

from __future__ import annotations

import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct


@jsii.implements(lambda_.IDestination)
class ExactDestination:
    """Send results to ``arn``, allowing the sending function ``action`` on that ARN only."""

    def __init__(self, arn: str, action: str, sid: str) -> None:
        self.arn = arn
        self.action = action
        self.sid = sid

    def bind(
        self, scope: Construct, fn: lambda_.IFunction, options: lambda_.DestinationOptions | None = None
    ) -> lambda_.DestinationConfig:
        """Called by CDK for each of ``on_success`` and ``on_failure``: the same statement, kept once."""
        fn.add_to_role_policy(iam.PolicyStatement(sid=self.sid, actions=[self.action], resources=[self.arn]))
        return lambda_.DestinationConfig(destination=self.arn)


def to_function(function: lambda_.IFunction) -> ExactDestination:
    """Invoke ``function`` (unqualified) with the whole result record."""
    return ExactDestination(function.function_arn, "lambda:InvokeFunction", "SendResultsToFunction")


def to_queue(queue: sqs.IQueue) -> ExactDestination:
    """Put the result record in ``queue``."""
    return ExactDestination(queue.queue_arn, "sqs:SendMessage", "SendResultsToQueue")
