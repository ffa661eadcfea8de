"""cdk-nag's AwsSolutions checks, applied to the whole app, and one way to suppress a finding.

Suppressions live beside the resource they concern (in each construct module),
always on that resource, always with the reason the finding does not apply.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import App, Aspects
from cdk_nag import AwsSolutionsChecks, NagPackSuppression, NagSuppressions
from constructs import IConstruct


def check(app: App) -> None:
    """Run the AwsSolutions pack on every construct when ``app`` synthesizes."""
    Aspects.of(app).add(AwsSolutionsChecks(verbose=True))


def suppress(
    resource: IConstruct,
    rule: str,
    reason: str,
    *,
    applies_to: Sequence[str] | None = None,
    children: bool = False,
) -> None:
    """Suppress ``AwsSolutions-<rule>`` on ``resource`` (and its children if asked), for ``reason``.

    Give ``applies_to`` for wildcard findings (IAM4, IAM5), as cdk-nag words them
    (``Resource::*``, ``Policy::arn:<AWS::Partition>:iam::aws:policy/...``), so only
    the named permission or managed policy is accepted, not every future one.
    """
    NagSuppressions.add_resource_suppressions(
        resource,
        [
            NagPackSuppression(
                id=f"AwsSolutions-{rule}", reason=reason, applies_to=list(applies_to) if applies_to else None
            )
        ],
        apply_to_children=children,
    )


def accept_xray_wildcard(role: IConstruct) -> None:
    """Tracing's grant: X-Ray's write actions have no resource-level permissions, so they name ``*``."""
    suppress(
        role,
        "IAM5",
        "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions.",
        applies_to=["Resource::*"],
        children=True,
    )
