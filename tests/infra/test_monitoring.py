"""Alarms: every function's failures, every model's error rate and every event lost after retries raise one."""

from __future__ import annotations

from typing import Any

from aws_cdk import App, Stack, assertions

from infra.monitoring import ERROR_RATE_MIN_REQUESTS, ERROR_RATE_PERCENT, Monitoring
from tests.infra.conftest import EXTRA_MODEL, Synthesis

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ops"


def alarmed_functions(synth: Synthesis) -> dict[str, dict[str, Any]]:
    """Logical id of each function -> the alarm that watches its Errors."""
    watched = {}
    for alarm in synth.resources("AWS::CloudWatch::Alarm").values():
        for query in alarm["Properties"].get("Metrics", []):
            metric = query.get("MetricStat", {}).get("Metric", {})
            if metric.get("Namespace") == "AWS/Lambda" and metric["MetricName"] == "Errors":
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
    # The router's and each model's failures, each model's error rate, and the failure queue.
    assert len(synth.resources("AWS::CloudWatch::Alarm")) == 2 * len(synth.registry) + 2
    assert "AlarmActions" not in str(synth.resources("AWS::CloudWatch::Alarm"))


def error_rate_alarms(synth: Synthesis) -> dict[tuple[str, str], dict[str, Any]]:
    """(Model, Task) -> the alarm on that model's error rate, read from the metrics it divides."""
    found = {}
    for alarm in synth.resources("AWS::CloudWatch::Alarm").values():
        queries = alarm["Properties"].get("Metrics", [])
        stats = {q["Id"]: q["MetricStat"] for q in queries if "MetricStat" in q}
        if stats and all(s["Metric"]["Namespace"] == "HfSlackBot" for s in stats.values()):
            dimensions = {d["Name"]: d["Value"] for d in stats["requests"]["Metric"]["Dimensions"]}
            found[dimensions["Model"], dimensions["Task"]] = alarm["Properties"]
    return found


def test_every_model_has_an_alarm_on_its_error_rate(synth: Synthesis, variant: Synthesis) -> None:
    alarms = error_rate_alarms(synth)
    assert set(alarms) == {(spec.name, spec.task) for spec in synth.registry}
    for (model, task), alarm in alarms.items():
        queries = {q["Id"]: q for q in alarm["Metrics"]}
        assert queries["expr_1"]["Expression"] == (
            f"IF(requests >= {ERROR_RATE_MIN_REQUESTS}, 100 * FILL(errors, 0) / requests, 0)"
        )
        for name, metric in (("requests", "Requests"), ("errors", "Errors")):
            stat = queries[name]["MetricStat"]
            assert stat["Metric"]["MetricName"] == metric
            assert stat["Metric"]["Dimensions"] == [
                {"Name": "Model", "Value": model},
                {"Name": "Task", "Value": task},
                {"Name": "service", "Value": "router"},
            ]
            assert (stat["Period"], stat["Stat"]) == (300, "Sum")
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (ERROR_RATE_PERCENT, "GreaterThanThreshold")
        assert alarm["TreatMissingData"] == "notBreaching"
    assert set(error_rate_alarms(variant)) - set(alarms) == {(EXTRA_MODEL["name"], EXTRA_MODEL["task"])}


def test_alarms_notify_the_topic_given_in_context() -> None:
    stack = Stack(App(), "Monitoring")
    Monitoring(stack, "Monitoring", alarm_topic_arn=TOPIC)
    assertions.Template.from_stack(stack).has_resource_properties("AWS::CloudWatch::Alarm", {"AlarmActions": [TOPIC]})
