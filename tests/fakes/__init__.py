"""The stand-ins every suite shares, one of each; ``tests/fakes_tests/`` checks them against the real thing.

- ``signing``: Slack's request signatures, and ``SIGNING_SECRET``, the one secret tests sign with.
- ``invoker``: the router's model invoker (``FakeInvoker``) and boto3's Lambda client (``FakeLambdaClient``).
- ``specs``: registry entries built in code (``model_spec``).
- ``destinations``: Lambda Destinations records, from the samples in ``tests/events/``.
- ``slack_api`` and ``slack_client``: the Slack Web API the bot calls, and Slack (or API Gateway) calling the bot.
- ``block_kit``: Slack's limits on what the bot sends; ``hub``: the Hugging Face Hub; ``loopback``: their server.

Waiting on ``python -m bot serve`` is ``tests.conftest.BotServer.wait_idle``, not a sleep.
"""
