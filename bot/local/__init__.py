"""Local mode: the whole system on one machine (``python -m bot serve``).

Here live the HTTP server that stands in for API Gateway (``server``) and the worker pool that
runs each model in its own process and hands its results back as Lambda Destinations records
(``workers``). It is an entry point, as ``bot/handler.py`` is the Lambda's, so it may import
anything in ``bot`` (the composition in ``bot.app``, the router, the CLI's errors) and
``inference``; nothing below the top of ``bot`` imports it (``tests/test_architecture.py``
checks it).
"""
