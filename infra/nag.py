"""cdk-nag's AwsSolutions checks, applied to the whole app, and one way to suppress a finding.

Suppressions live beside the resource they concern (in each construct module),
always on that resource, always with the reason the finding does not apply.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import App, Aspects
from cdk_nag import AwsSolutionsChecks, NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import IConstruct

#: What an ``applies_to`` entry may be: an exact finding such as ``Resource::*``, or a pattern.
AppliesTo = str | RegexAppliesTo


def check(app: App) -> None:
    """Run the AwsSolutions pack on every construct when ``app`` synthesizes."""
    Aspects.of(app).add(AwsSolutionsChecks(verbose=True))


def suppress(
    resource: IConstruct,
    rule: str,
    reason: str,
    *,
    applies_to: Sequence[AppliesTo] | None = None,
    children: bool = False,
) -> None:
    """Suppress ``AwsSolutions-<rule>`` on ``resource`` (and its children if asked), for ``reason``.

    Give ``applies_to`` for wildcard findings (IAM5, IAM4) so only the named
    permission or managed policy is accepted, not every future one.
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


def suppress_path(
    scope: IConstruct, path: str, rule: str, reason: str, *, applies_to: Sequence[AppliesTo] | None = None
) -> None:
    """Like :func:`suppress`, for resources CDK creates out of reach (singleton providers), by construct path."""
    NagSuppressions.add_resource_suppressions_by_path(
        scope,
        path,
        [
            NagPackSuppression(
                id=f"AwsSolutions-{rule}", reason=reason, applies_to=list(applies_to) if applies_to else None
            )
        ],
    )
