"""The router: a Slack Bolt app, the /go form, and the local mode.

Nothing under ``bot`` imports torch or transformers: the router must
acknowledge Slack within 3 seconds, cold start included.
"""
