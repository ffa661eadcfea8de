"""The Slack front end: everything between Bolt and a thread reply.

Here live the listeners and their registration (``listeners``), what a command or mention
asks for (``plans``), Slack's markup read back as plain text (``text``), starting runs and
comparisons (``runs``), the reply envelope that travels with an invocation (``reply``), the
delivery of a model's answer (``delivery``) and of a comparison's columns
(``compare_reply``), a model's answer rendered per task and the messages that carry answers
(``answers``), the Block Kit builders and views (``ui``) and the app manifest (``manifest``). It may import ``bot.core``, ``bot.stores`` and ``inference``; never
``bot.form``, ``bot.local`` or the modules at the top of ``bot``
(``tests/test_architecture.py`` checks it).
"""
