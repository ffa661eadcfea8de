"""Which paths and methods exist under /go."""

from __future__ import annotations

import pytest

from tests.bot.form.conftest import body, make_request


@pytest.mark.parametrize("path", ["/go/", "/go//"])
def test_a_trailing_slash_is_the_page(call, path):
    response = call(make_request("GET", path))

    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/go/admin", "/go/static/form.js", "/go/login/extra", "/gone", "/go/login"])
def test_unknown_paths_are_json_404s(call, path):
    response = call(make_request("GET", path))

    assert response.status == 404
    assert body(response)["error"]["type"] == "not_found"


def test_login_without_a_configured_passcode_is_a_404(call):
    response = call(make_request("POST", "/go/login", json_body={"passcode": "x"}))

    assert response.status == 404


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "HEAD"])
def test_other_methods_on_the_page_are_405_with_allow(call, method):
    response = call(make_request(method))

    assert response.status == 405
    assert response.headers["Allow"] == "GET, POST"
    assert body(response)["error"]["type"] == "method_not_allowed"


def test_get_on_login_is_405_with_allow(call, locked_settings):
    response = call(make_request("GET", "/go/login"), settings=locked_settings)

    assert response.status == 405
    assert response.headers["Allow"] == "POST"
