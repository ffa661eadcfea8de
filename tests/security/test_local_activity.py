"""``GET /local/activity`` (the local server's idle signal for tests) reaches loopback clients only, and
the Lambda router has no such route."""

from __future__ import annotations

import pytest

from bot.local.server import ACTIVITY_PATH, is_loopback
from tests.fakes.slack_client import api_gateway_event
from tests.security.conftest import InProcess


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.7", "::1", "::ffff:127.0.0.1"])
def test_loopback_addresses(address: str) -> None:
    assert is_loopback(address)


@pytest.mark.parametrize("address", ["10.0.0.1", "192.168.1.20", "::ffff:10.0.0.1", "2001:db8::1", "localhost", ""])
def test_other_addresses_are_not_loopback(address: str) -> None:
    assert not is_loopback(address)


def test_the_lambda_router_has_no_activity_route(lambda_router: InProcess) -> None:
    result = lambda_router.handle(api_gateway_event("GET", ACTIVITY_PATH, None, {}))
    assert result["statusCode"] == 404 and "idle" not in result["body"]
