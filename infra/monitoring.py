"""Where failures end up: the failure queue and the alarms that say something went wrong.

A model's answer travels model function -> router (a Lambda destination) ->
Slack. An error in either function, an answer Lambda could not hand to the
router, and a router event that exhausted its retries (it lands in the failure
queue) each raise an alarm, so nothing fails silently. A model whose answers
are mostly errors (bad weights, inputs it cannot handle) raises its own alarm,
from the figures the router records.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from bot.core.metrics import ERRORS, REQUESTS
from inference.registry import ModelSpec
from infra import nag
from infra.metrics import PERIOD, PERIOD_MINUTES, model_metric

#: As long as SQS keeps a message, so there are two weeks to look at a failed event.
FAILURE_RETENTION = Duration.days(14)
#: A model alarms when more than this share of its answers in one period are errors...
ERROR_RATE_PERCENT = 20
#: ...out of at least this many: one failed request out of two is a person's typo, not a broken model.
ERROR_RATE_MIN_REQUESTS = 5


class Monitoring(Construct):
    """The router's failure queue and every alarm, optionally notifying one SNS topic.

    Attributes:
        failure_queue: the router's ``on_failure`` destination.
    """

    def __init__(self, scope: Construct, construct_id: str, *, alarm_topic_arn: str | None = None) -> None:
        super().__init__(scope, construct_id)
        self._actions = (
            [cloudwatch_actions.SnsAction(sns.Topic.from_topic_arn(self, "AlarmTopic", alarm_topic_arn))]
            if alarm_topic_arn
            else []
        )
        self.failure_queue = sqs.Queue(
            self,
            "FailureQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=FAILURE_RETENTION,
        )
        nag.suppress(
            self.failure_queue,
            "SQS3",
            "This queue is the dead end itself: it receives the router's asynchronous events that failed "
            "every retry, and an alarm fires on its first message.",
        )
        self._alarm(
            "FailedRouterEvents",
            self.failure_queue.metric_approximate_number_of_messages_visible(statistic="Maximum", period=PERIOD),
            "The router failed an event after all retries (a Slack answer was lost); the event is in the "
            "failure queue.",
        )

    def watch_function(self, function: lambda_.IFunction, label: str) -> cloudwatch.Alarm:
        """Alarm when ``function`` fails or Lambda cannot deliver its asynchronous result."""
        failures = cloudwatch.MathExpression(
            expression="FILL(errors, 0) + FILL(undelivered, 0)",
            using_metrics={
                "errors": function.metric_errors(statistic="Sum", period=PERIOD),
                "undelivered": function.metric("DestinationDeliveryFailures", statistic="Sum", period=PERIOD),
            },
            label=f"{label} errors and undelivered results",
            period=PERIOD,
        )
        return self._alarm(
            f"{label}-failures",
            failures,
            f"The {label} function raised an error, timed out, or its result could not be delivered.",
        )

    def watch_error_rate(self, spec: ModelSpec) -> cloudwatch.Alarm:
        """Alarm when more than ``ERROR_RATE_PERCENT`` % of a busy period's answers from ``spec``'s model failed.

        Errors here are the failed answers the router saw (the model's typed errors
        included), not only the function's crashes, which ``watch_function`` covers.
        """
        rate = cloudwatch.MathExpression(
            expression=f"IF(requests >= {ERROR_RATE_MIN_REQUESTS}, 100 * FILL(errors, 0) / requests, 0)",
            using_metrics={
                "requests": model_metric(spec, REQUESTS, statistic="Sum"),
                "errors": model_metric(spec, ERRORS, statistic="Sum"),
            },
            label=f"{spec.name} error rate (%)",
            period=PERIOD,
        )
        return self._alarm(
            f"{spec.name}-error-rate",
            rate,
            f"More than {ERROR_RATE_PERCENT}% of the {spec.name} model's answers in {PERIOD_MINUTES} minutes "
            f"were errors (with at least {ERROR_RATE_MIN_REQUESTS} requests).",
            threshold=ERROR_RATE_PERCENT,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        description: str,
        *,
        threshold: float = 1,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=comparison,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        for action in self._actions:
            alarm.add_alarm_action(action)
        return alarm
