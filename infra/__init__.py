"""The AWS CDK app that deploys the bot: ``python -m infra`` synthesizes it into ``cdk.out``."""
