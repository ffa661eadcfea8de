"""Test-only: each model worker of ``python -m bot serve`` appends every request it is handed to the file
named by ``E2E_REQUEST_LOG`` (one JSON line each), so an end-to-end test can assert on what the model
received. Put on ``PYTHONPATH`` by tests/e2e/test_chat_threads.py's server; Python runs a
``sitecustomize`` at start-up in the server and in each worker it spawns. Nothing is imported here
until ``inference.service`` is: the router's process never imports it, so there it does nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import sys
import threading

LOG = os.environ.get("E2E_REQUEST_LOG")
_lock = threading.Lock()


def _wrap(module: object) -> None:
    handle = module.handle  # type: ignore[attr-defined]

    def logged(event, **kwargs):  # type: ignore[no-untyped-def]
        with _lock, open(LOG, "a", encoding="utf-8") as out:  # type: ignore[arg-type]
            out.write(json.dumps({"model": os.environ.get("MODEL_NAME"), "event": event}) + "\n")
        return handle(event, **kwargs)

    module.handle = logged  # type: ignore[attr-defined]


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):  # type: ignore[no-untyped-def]
        if name != "inference.service":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_wrap(module):  # type: ignore[no-untyped-def]
            exec_module(module)
            _wrap(module)

        loader.exec_module = exec_and_wrap  # type: ignore[method-assign]
        return spec


if LOG:
    sys.meta_path.insert(0, _Finder())
