"""The router: a Slack Bolt app, the /go form, and the local mode.

Its wings are subpackages by concern (``core``, ``stores``, ``slack``, ``form``, ``local``),
importing one way from the entry points at the top down to the stores; docs/architecture.md
draws them and tests/test_architecture.py checks them. Nothing under ``bot`` imports torch or
transformers: the router must acknowledge Slack within 3 seconds, cold start included.
"""
