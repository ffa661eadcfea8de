"""Local mode: the whole system on one machine (``python -m bot serve``)."""
