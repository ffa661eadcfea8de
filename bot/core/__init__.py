"""The router's shared machinery, used by both front ends (Slack and the form).

Here live the settings (``config``), HTTP request and response types (``http``), structured
logs (``logs``), the invoker that reaches a model (``invoker``: Lambda; local mode's worker
pool is in ``bot.local``), the figures the router records (``metrics``) and reads back from
CloudWatch (``cloudwatch_stats``), Slack's Web API calls (``slack_ops``) and mrkdwn text rules
(``mrkdwn``), the slash commands the app has (``commands``), the checks every input passes before an invocation (``model_requests``), the
plain-words error table (``messages``), the comparison rule (``compare``) and the ``Services``
bundle the listeners and the router share (``services``). It may import ``bot.stores`` and
``inference``; never ``bot.slack``, ``bot.form``, ``bot.local`` or the modules at the top of
``bot`` (``tests/test_architecture.py`` checks it).
"""
