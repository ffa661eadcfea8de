"""The browser front end: everything under ``/go``.

Here live the routes (``routes``: the page, runs, feedback, the compare check, the passcode
login and ``/go/stats``), the page and its security headers (``page``), the form's feedback
and voter cookies (``feedback``), the per-client run limit (``limits``), the compare check
(``compare``), the passcode (``passcode``), the stats page (``stats``) and the static assets
(``web/``). It may import ``bot.core``, ``bot.stores`` and ``inference``; never ``bot.slack``,
``bot.local`` or the modules at the top of ``bot`` (``tests/test_architecture.py`` checks it).
"""
