"""The model functions' network and weight cache: a VPC and an EFS file system.

The subnets the functions and EFS live in come first in the VPC's layout and
keep their name in both modes, so switching ``offline`` on or off only adds or
removes the NAT gateway and the public subnets; the cache stays where it is.

S3 is reached from those subnets through one gateway endpoint, made only when
something needs it (a VPC may have one gateway endpoint per service per route
table, so every use shares it): the warm step's ``warm_source`` and the model
functions' media bucket. Its policy is the union of what each use adds, and
nothing else: a gateway endpoint without a policy would let any S3 request through.
"""

from __future__ import annotations

from typing import cast

from aws_cdk import CfnResource, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_efs as efs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra import nag

#: Where the model functions mount the cache; ``HF_HOME`` points here.
MOUNT_PATH = "/mnt/hf_models"
CACHE_ROOT = "/hf_models"
#: The POSIX identity every function writes the cache as (not root).
CACHE_UID = "1001"
CACHE_GID = "1001"
CACHE_PERMISSIONS = "750"
MODELS_SUBNETS = "Models"
PUBLIC_SUBNETS = "Public"
MAX_AZS = 2
HTTPS = 443
#: The AWS-managed prefix list of S3's addresses in the region is named as the gateway endpoint's service
#: (``com.amazonaws.<region>.s3``); its id differs per region and CloudFormation cannot look it up.
S3_SERVICE = ec2.GatewayVpcEndpointAwsService.S3
PREFIX_LIST_ID = "PrefixLists.0.PrefixListId"
#: What the deploy-time lookup of that id calls (EC2 allows it only on ``*``).
PREFIX_LIST_ACTIONS = ("ec2:DescribeManagedPrefixLists",)
#: The stack-wide function CDK's AwsCustomResource runs on (its fixed construct id).
AWS_CUSTOM_RESOURCE_FUNCTION = "AWS679f53fac002430cb0da5b7982bd2287"


class ModelNetwork(Construct):
    """VPC, flow logs, the EFS cache with its access point, and the security group of the model functions.

    Attributes:
        vpc: two AZs; ``subnets`` selects where model functions and EFS live, ``subnet_ids`` lists them.
        s3_endpoint: the gateway endpoint to S3 on the models' subnets, once :meth:`add_s3_endpoint` has made it
            (None until then); its policy allows what each use adds to it, no more.
        lambda_endpoint: the interface endpoint through which model functions send partial answers to the router,
            once :meth:`add_lambda_endpoint` has made it (None until then: a registry with no model that streams
            pays nothing for it).
        function_security_group: the model functions' group: NFS to the cache, nothing else.
        file_system, access_point: the cache, mounted through the access point.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        nat_gateways: int,
        offline: bool,
        removal_policy: RemovalPolicy,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        models_subnets = ec2.SubnetConfiguration(
            name=MODELS_SUBNETS,
            subnet_type=ec2.SubnetType.PRIVATE_ISOLATED if offline else ec2.SubnetType.PRIVATE_WITH_EGRESS,
            cidr_mask=20,
        )
        public_subnets = ec2.SubnetConfiguration(name=PUBLIC_SUBNETS, subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=MAX_AZS,
            nat_gateways=nat_gateways,
            subnet_configuration=[models_subnets] if offline else [models_subnets, public_subnets],
            restrict_default_security_group=True,
        )
        self._keep_provider_logs(log_retention, removal_policy)
        self.subnets = ec2.SubnetSelection(subnet_group_name=MODELS_SUBNETS)
        self.subnet_ids = self.vpc.select_subnets(subnet_group_name=MODELS_SUBNETS).subnet_ids
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=log_retention, removal_policy=removal_policy)
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )

        self.s3_endpoint: ec2.GatewayVpcEndpoint | None = None
        self._log_retention, self._removal_policy = log_retention, removal_policy
        self._functions_reach_s3 = False
        self.lambda_endpoint: ec2.InterfaceVpcEndpoint | None = None
        self.function_security_group = ec2.SecurityGroup(
            self,
            "ModelFunctions",
            vpc=self.vpc,
            description="Model functions: NFS to the cache only (the warm step fills it; they never download)",
            allow_all_outbound=False,
        )
        cache_security_group = ec2.SecurityGroup(
            self,
            "Cache",
            vpc=self.vpc,
            description="EFS model cache: NFS from the model functions and the warm step only",
            allow_all_outbound=False,
        )
        self.file_system = efs.FileSystem(
            self,
            "FileSystem",
            vpc=self.vpc,
            vpc_subnets=self.subnets,
            security_group=cache_security_group,
            encrypted=True,
            throughput_mode=efs.ThroughputMode.ELASTIC,
            performance_mode=efs.PerformanceMode.GENERAL_PURPOSE,
            removal_policy=removal_policy,
            # CDK's default policy would allow ClientWrite (and root access) to every principal through a mount
            # target, which no role's policy could narrow: this one grants nothing by itself, so each role's own
            # actions are all it may do (the model functions: ClientMount, read-only; the warm step: ClientWrite
            # too), and a client without IAM may not mount at all.
            allow_anonymous_access=True,
            file_system_policy=iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="OnlyWhatEachRoleAllows",
                        principals=[iam.AccountRootPrincipal()],
                        actions=["elasticfilesystem:ClientMount"],
                        conditions={"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}},
                    )
                ]
            ),
        )
        self.file_system.connections.allow_default_port_from(
            self.function_security_group, "NFS from the model functions"
        )
        self.access_point = self.file_system.add_access_point(
            "AccessPoint",
            path=CACHE_ROOT,
            create_acl=efs.Acl(owner_uid=CACHE_UID, owner_gid=CACHE_GID, permissions=CACHE_PERMISSIONS),
            posix_user=efs.PosixUser(uid=CACHE_UID, gid=CACHE_GID),
        )

    def add_s3_endpoint(self) -> ec2.GatewayVpcEndpoint:
        """S3 inside the VPC (made once): a gateway endpoint on the route tables of the models' subnets.

        The warm step reads its ``warm_source`` through it (offline, the isolated subnets' only way to S3;
        online, without paying the NAT gateway), and the model functions their media bucket. Each adds the
        statements it needs to the endpoint's policy (:mod:`infra.warm`, :mod:`infra.media`).
        """
        if self.s3_endpoint is None:
            # Its id is the one the endpoint always had, so a stack that had it keeps it in place.
            self.s3_endpoint = self.vpc.add_gateway_endpoint("S3", service=S3_SERVICE, subnets=[self.subnets])
        return self.s3_endpoint

    def open_s3_to_functions(self) -> None:
        """Let the model functions' group send HTTPS to S3 (once), to its addresses in the region only.

        A gateway endpoint is a route, not an address a group can name, so the rule names S3's
        AWS-managed prefix list, whose id a deploy-time lookup finds (CloudFormation has no way to:
        aws-cloudformation/cloudformation-coverage-roadmap#453). With the NAT gateway, HTTPS anywhere would
        let the functions reach the internet; this reaches S3 through the endpoint and nothing else.
        """
        if self._functions_reach_s3:
            return
        self._functions_reach_s3 = True
        endpoint = self.add_s3_endpoint()
        call = cr.AwsSdkCall(
            service="EC2",
            action="describeManagedPrefixLists",
            parameters={"Filters": [{"Name": "prefix-list-name", "Values": [S3_SERVICE.name]}]},
            physical_resource_id=cr.PhysicalResourceId.from_response(PREFIX_LIST_ID),
            output_paths=[PREFIX_LIST_ID],
        )
        lookup = cr.AwsCustomResource(
            self,
            "S3PrefixList",
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        sid="FindS3PrefixList",
                        actions=list(PREFIX_LIST_ACTIONS),
                        resources=["*"],
                        conditions={"StringEquals": {"aws:RequestedRegion": Stack.of(self).region}},
                    )
                ]
            ),
            install_latest_aws_sdk=False,
            log_group=logs.LogGroup(
                self, "S3PrefixListLogs", retention=self._log_retention, removal_policy=self._removal_policy
            ),
        )
        self.function_security_group.add_egress_rule(
            ec2.Peer.prefix_list(lookup.get_response_field(PREFIX_LIST_ID)),
            ec2.Port.tcp(HTTPS),
            "HTTPS to S3 through the gateway endpoint (the media bucket)",
        )
        lookup.node.add_dependency(endpoint)
        self._accept_lookup_findings(lookup)

    def _accept_lookup_findings(self, lookup: cr.AwsCustomResource) -> None:
        """cdk-nag's findings on the prefix list lookup: CDK's function, and EC2's one way to describe."""
        nag.suppress(
            lookup,
            "IAM5",
            "EC2's DescribeManagedPrefixLists has no resource-level permissions; the deploy-time lookup of S3's "
            "prefix list id may call only that, in the stack's own region.",
            applies_to=["Resource::*"],
            children=True,
        )
        function = Stack.of(self).node.find_child(AWS_CUSTOM_RESOURCE_FUNCTION)
        nag.suppress(
            function,
            "IAM4",
            "CDK's AwsCustomResource function uses AWSLambdaBasicExecutionRole to write its own logs only.",
            applies_to=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
            children=True,
        )

    def add_lambda_endpoint(self) -> ec2.InterfaceVpcEndpoint:
        """The Lambda API inside the VPC (made once), for the model functions' ``Event`` invokes of the router.

        A streaming model sends its partial answers this way (``PARTIALS_FUNCTION``); the functions' group
        may reach the endpoint on HTTPS and nothing else new, and the endpoint's policy (see
        :mod:`infra.models`) allows invoking the router only. Private DNS makes boto3's usual address resolve to it.
        """
        if self.lambda_endpoint is None:
            group = ec2.SecurityGroup(
                self,
                "LambdaEndpointGroup",
                vpc=self.vpc,
                description="Lambda API endpoint: HTTPS from the model functions only (their partial answers)",
                allow_all_outbound=False,
            )
            self.lambda_endpoint = self.vpc.add_interface_endpoint(
                "Lambda",
                service=ec2.InterfaceVpcEndpointAwsService.LAMBDA_,
                subnets=self.subnets,
                security_groups=[group],
                private_dns_enabled=True,
                open=False,
            )
            self.lambda_endpoint.connections.allow_default_port_from(
                self.function_security_group, "HTTPS from the model functions: partial answers to the router"
            )
        return self.lambda_endpoint

    def _keep_provider_logs(self, log_retention: logs.RetentionDays, removal_policy: RemovalPolicy) -> None:
        """Give the Lambda that CDK adds to empty the default security group a log group that expires.

        CDK creates that function (``restrict_default_security_group``) as a stack-wide
        singleton without a log group of its own; its logs would otherwise be kept forever.
        """
        provider = Stack.of(self).node.find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
        handler = cast(CfnResource, provider.node.find_child("Handler"))
        provider_logs = logs.LogGroup(
            self, "DefaultSecurityGroupLogs", retention=log_retention, removal_policy=removal_policy
        )
        handler.add_property_override("LoggingConfig", {"LogGroup": provider_logs.log_group_name})
