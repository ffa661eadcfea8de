"""The media bucket: where an image or a recording waits between the router and its model.

Lambda's payloads (1 MB asynchronous, 6 MB synchronous) do not carry media, so the
router puts each file under ``uploads/`` and passes its key; the model function
reads it there and may put an annotated copy (boxes drawn on an image) under
``annotated/``, which the router reads back to post in Slack
(:mod:`inference.media_store`'s ``S3Store`` on both sides). The bucket exists only
when the registry has a model whose task reads a file.

Least privilege both ways: the router may put uploads and get annotated copies; each
file model's function may get uploads and put annotated copies, only through the
VPC's S3 gateway endpoint (``aws:SourceVpce``), whose policy lets through those two
prefixes of this bucket and nothing else of it; text models get nothing. Neither
side may list, so a key names one file and the keys are unguessable
(:func:`inference.media.upload_key`); a missing key answers 403, as S3 does without
``s3:ListBucket``. The ``SourceVpce`` condition sits on the model roles' own
statements rather than in the bucket policy: a bucket policy would have to name each
model role to spare the router, which is not in the VPC.

The bucket holds nothing worth keeping: files expire after
:data:`~inference.media_store.EXPIRY_DAYS` (lifecycle), with S3-managed encryption
(a customer managed key would add a key policy, grants on both sides and a fee, for
files kept a day), no versioning (keys are never overwritten, and versions would
only keep expired files longer), ACLs disabled, public access blocked, TLS 1.2 or
later only. It is destroyed with the stack whatever ``removal`` says, and emptied
first (``auto_delete_objects``): otherwise deleting the stack, or the last file model,
fails on files less than a day old. That adds CDK's small function, which runs
outside the VPC at deploy time only, so an offline stack is unaffected.
"""

from __future__ import annotations

from typing import cast

from aws_cdk import CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from bot.core.config import MEDIA_BUCKET
from inference.media import ANNOTATED, UPLOADS
from inference.media_store import EXPIRY_DAYS, MEDIA_BUCKET_ENV
from inference.registry import Registry
from inference.tasks import media_kind
from infra import nag
from infra.network import ModelNetwork

#: What ``S3Store`` calls: ``put`` is PutObject, ``get`` is GetObject (its size check reads the response).
PUT_ACTIONS = ("s3:PutObject",)
GET_ACTIONS = ("s3:GetObject",)
#: An upload the router began and never finished costs storage until it is aborted.
ABORT_UPLOADS_AFTER = Duration.days(1)
MINIMUM_TLS_VERSION = 1.2
#: The stack-wide provider CDK adds for ``auto_delete_objects`` (its fixed construct id).
AUTO_DELETE_PROVIDER = "Custom::S3AutoDeleteObjectsCustomResourceProvider"


def reads_files(registry: Registry) -> bool:
    """Whether any entry's task reads a file: only then does the stack need the bucket."""
    return any(media_kind(spec.task) is not None for spec in registry)


class MediaBucket(Construct):
    """The bucket, its way in from the model functions' VPC, and the grants of each side.

    Attributes:
        bucket: the bucket; its name is the router's and the file models' ``MEDIA_BUCKET``.
        endpoint: the VPC's S3 gateway endpoint the model functions reach it through.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: ModelNetwork,
        removal_policy: RemovalPolicy,
        log_retention: logs.RetentionDays,
    ) -> None:
        """``removal_policy`` and ``log_retention`` are for the logs of CDK's emptying function; the bucket is
        always destroyed."""
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=MINIMUM_TLS_VERSION,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireFiles",
                    expiration=Duration.days(EXPIRY_DAYS),
                    abort_incomplete_multipart_upload_after=ABORT_UPLOADS_AFTER,
                )
            ],
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=True,
        )
        nag.suppress(
            self.bucket,
            "S1",
            "Files live a day and only the router and the model functions may read or write them, each under "
            "its request's id (uploads/<request id>/...), which both already log; access logs would keep every "
            "key longer than the files. CloudTrail data events are the account's choice for auditing S3.",
        )
        self._keep_provider_logs(log_retention, removal_policy)
        self.endpoint = network.add_s3_endpoint()
        # The endpoint lets through the model functions' two uses of this bucket, and nothing else of it.
        for statement in self._model_statements(principals=[iam.AnyPrincipal()]):
            self.endpoint.add_to_policy(statement)
        network.open_s3_to_functions()

    def _objects(self, prefix: str) -> str:
        return self.bucket.arn_for_objects(f"{prefix}/*")

    def _model_statements(
        self, *, principals: list[iam.IPrincipal] | None = None, conditions: dict[str, object] | None = None
    ) -> list[iam.PolicyStatement]:
        """A file model's uses: get an upload, put its annotated copy."""
        return [
            iam.PolicyStatement(
                sid="GetUploads",
                principals=principals,
                actions=list(GET_ACTIONS),
                resources=[self._objects(UPLOADS)],
                conditions=conditions,
            ),
            iam.PolicyStatement(
                sid="PutAnnotated",
                principals=principals,
                actions=list(PUT_ACTIONS),
                resources=[self._objects(ANNOTATED)],
                conditions=conditions,
            ),
        ]

    def use_from_router(self, function: lambda_.Function) -> None:
        """Tell the router the bucket's name; let it put uploads and get annotated copies, nothing else."""
        function.add_environment(MEDIA_BUCKET, self.bucket.bucket_name)
        function.add_to_role_policy(
            iam.PolicyStatement(sid="PutUploads", actions=list(PUT_ACTIONS), resources=[self._objects(UPLOADS)])
        )
        function.add_to_role_policy(
            iam.PolicyStatement(sid="GetAnnotated", actions=list(GET_ACTIONS), resources=[self._objects(ANNOTATED)])
        )
        self._accept_prefix_wildcards(function)

    def use_from_model(self, function: lambda_.Function) -> None:
        """Tell a file model's function the bucket's name; let it get uploads and put annotated copies,
        only from inside the VPC (through :attr:`endpoint`)."""
        function.add_environment(MEDIA_BUCKET_ENV, self.bucket.bucket_name)
        through_endpoint = {"StringEquals": {"aws:SourceVpce": self.endpoint.vpc_endpoint_id}}
        for statement in self._model_statements(conditions=through_endpoint):
            function.add_to_role_policy(statement)
        self._accept_prefix_wildcards(function)

    def _accept_prefix_wildcards(self, function: lambda_.Function) -> None:
        bucket = Stack.of(self).get_logical_id(cast(s3.CfnBucket, self.bucket.node.default_child))
        nag.suppress(
            cast(iam.Role, function.role),
            "IAM5",
            f"Each file waits under a new random key (inference/media.py: {UPLOADS}/<request id>/<random>.<ext>, "
            f"its annotated copy under {ANNOTATED}/), known only at run time; each grant is one action on one "
            "prefix of the media bucket.",
            applies_to=[f"Resource::<{bucket}.Arn>/{prefix}/*" for prefix in (UPLOADS, ANNOTATED)],
            children=True,
        )

    def _keep_provider_logs(self, log_retention: logs.RetentionDays, removal_policy: RemovalPolicy) -> None:
        """Give the function CDK adds to empty the bucket a log group that expires (it has none of its own)."""
        provider = Stack.of(self).node.find_child(AUTO_DELETE_PROVIDER)
        handler = cast(CfnResource, provider.node.find_child("Handler"))
        provider_logs = logs.LogGroup(self, "AutoDeleteLogs", retention=log_retention, removal_policy=removal_policy)
        handler.add_property_override("LoggingConfig", {"LogGroup": provider_logs.log_group_name})
