"""The router Lambda: ``bot.handler.handler``.

Built once per container, on the first event: settings and secrets (from
Secrets Manager), the registry, the Lambda invoker and the DynamoDB state
store. Imports nothing heavy: no torch, no transformers.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from bot.app import build_bolt_app, build_services
from bot.core.config import load_settings
from bot.core.invoker import LambdaInvoker
from bot.core.logs import set_correlation_id, set_request, setup_logging
from bot.core.metrics import Metrics
from bot.router import Router
from bot.stores.feedback import DynamoFeedbackStore
from bot.stores.state import DynamoStateStore
from inference.registry import load_registry


@cache
def router() -> Router:
    settings = load_settings()
    secrets = settings.secrets
    setup_logging(secrets.values(), level=settings.log_level, service=settings.service_name)
    services = build_services(
        settings,
        load_registry(),
        LambdaInvoker(settings.function_prefix),
        DynamoStateStore(settings.state_table),
        DynamoFeedbackStore(settings.feedback_table),
        Metrics(emit=True),
    )
    return Router(services, build_bolt_app(services), lambda_mode=True)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: API Gateway proxy events and Lambda Destinations records."""
    setup_logging()
    set_correlation_id(correlation_id(event))
    set_request(event)
    current = router()
    if not current.services.settings.secrets.signing_secret:
        router.cache_clear()  # the secret is not filled in yet: read it again on the next request
    return current.handle(event, context)


def correlation_id(event: dict[str, Any]) -> str | None:
    """API Gateway's request id, or the model request's id for a destination record."""
    context = event.get("requestContext") or {}
    reply = (event.get("requestPayload") or {}).get("reply") if isinstance(event.get("requestPayload"), dict) else None
    if isinstance(reply, dict) and reply.get("request_id"):
        return str(reply["request_id"])
    return context.get("requestId")
