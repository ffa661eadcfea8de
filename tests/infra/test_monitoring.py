"""Alarms: every function's failures and every event lost after retries raise one."""

from __future__ import annotations

from typing import Any

from aws_cdk import App, Stack, assertions

from infra.monitoring import Monitoring
from tests.infra.conftest import Synthesis

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ops"


def alarmed_functions(synth: Synthesis) -> dict[str, dict[str, Any]]:
    """Logical id of each function -> the alarm that watches its Errors."""
    watched = {}
    for alarm in synth.resources("AWS::CloudWatch::Alarm").values():
        for query in alarm["Properties"].get("Metrics", []):
            metric = query.get("MetricStat", {}).get("Metric", {})
            if metric.get("MetricName") == "Errors":
                (dimension,) = metric["Dimensions"]
                watched[dimension["Value"]["Ref"]] = alarm["Properties"]
    return watched


def test_every_function_has_an_alarm_on_its_errors_and_undelivered_results(synth: Synthesis) -> None:
    watched = alarmed_functions(synth)
    functions = [synth.stack.router.function, *synth.stack.models.functions.values()]
    assert set(watched) == {synth.logical_id(f) for f in functions}
    for alarm in watched.values():
        names = {q["MetricStat"]["Metric"]["MetricName"] for q in alarm["Metrics"] if "MetricStat" in q}
        assert names == {"Errors", "DestinationDeliveryFailures"}
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"


def test_a_message_in_the_failure_queue_raises_an_alarm(synth: Synthesis) -> None:
    queue = synth.logical_id(synth.stack.monitoring.failure_queue)
    synth.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Namespace": "AWS/SQS",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}],
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    )
    assert len(synth.resources("AWS::CloudWatch::Alarm")) == len(synth.registry) + 2
    assert "AlarmActions" not in str(synth.resources("AWS::CloudWatch::Alarm"))


def test_alarms_notify_the_topic_given_in_context() -> None:
    stack = Stack(App(), "Monitoring")
    Monitoring(stack, "Monitoring", alarm_topic_arn=TOPIC)
    assertions.Template.from_stack(stack).has_resource_properties("AWS::CloudWatch::Alarm", {"AlarmActions": [TOPIC]})
