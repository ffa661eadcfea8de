"""Where the router keeps what must outlive a request: the bottom wing.

Here live the two storage backends (``storage``: a SQLite file locally, a DynamoDB table in
AWS), the claims that make each answer happen once (``state``), the feedback on answers
(``feedback``) and the figures ``/go/stats`` shows with local mode's file of them (``stats``).
It may import only ``inference`` (and itself): nothing else in ``bot``
(``tests/test_architecture.py`` checks it).
"""
