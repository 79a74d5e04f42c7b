"""The LocalIssuer as an authorization server: registration, PKCE authorization codes, refresh tokens.

Driven with Authlib's OAuth client (the real client MCP-style hosts use besides the SDK), and
with plain requests for the refusals a client library would never send.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from typing import Any, Final
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client

from auth0_asgi.testing import LocalIssuer, serve_issuer

from .conftest import _rsa_private

API: Final = "https://api.example.com/mcp"
REDIRECT: Final = "http://127.0.0.1:9/callback"


@pytest.fixture
def served() -> Iterator[tuple[LocalIssuer, str]]:
    issuer = LocalIssuer(private_key=_rsa_private(0), audience=API, scopes=["read:repos"])
    with serve_issuer(issuer, issuer_url=True) as url:
        yield issuer, url


def _register(url: str, **metadata: Any) -> dict[str, Any]:
    body = {"redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "refresh_token"], **metadata}
    response = httpx.post(f"{url}/oidc/register", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _authorize(url: str, registered: str, challenge: str, **extra: str) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": registered,
        "redirect_uri": REDIRECT,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "s1",
        "resource": API,
        "scope": "read:repos offline_access",
        **extra,
    }
    return httpx.get(f"{url}/authorize?{urlencode(params)}")


def test_discovery_is_served_as_rfc_8414_and_oidc_with_the_served_url_as_issuer(
    served: tuple[LocalIssuer, str],
) -> None:
    issuer, url = served
    documents = [
        httpx.get(f"{url}{path}").json()
        for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")
    ]
    assert documents[0] == documents[1]
    document = documents[0]
    assert document["issuer"] == issuer.issuer == f"{url}/"
    assert document["authorization_endpoint"] == f"{url}/authorize"
    assert document["registration_endpoint"] == f"{url}/oidc/register"
    assert document["code_challenge_methods_supported"] == ["S256"]
    # Only what /authorize answers: the implicit flow's "token" is refused there (issue 31).
    assert document["response_types_supported"] == ["code"]
    assert document["scopes_supported"] == ["read:repos", "openid", "profile", "email", "offline_access"]


def test_authlib_completes_the_code_flow_and_refreshes(served: tuple[LocalIssuer, str]) -> None:
    issuer, url = served
    client = _register(url, token_endpoint_auth_method="client_secret_post")
    verifier, _ = _pkce()
    with OAuth2Client(
        client["client_id"],
        client["client_secret"],
        redirect_uri=REDIRECT,
        scope="read:repos offline_access",
        token_endpoint_auth_method="client_secret_post",
        code_challenge_method="S256",
    ) as oauth:
        authorization_url, state = oauth.create_authorization_url(
            f"{url}/authorize", code_verifier=verifier, resource=API
        )
        redirect = httpx.get(authorization_url)
        assert redirect.status_code == 302
        location = redirect.headers["location"]
        query = parse_qs(urlsplit(location).query)
        assert query["state"] == [state]
        assert query["iss"] == [issuer.issuer]  # RFC 9207
        token = oauth.fetch_token(
            f"{url}/oauth/token", authorization_response=location, code_verifier=verifier, resource=API
        )
        refreshed = oauth.refresh_token(f"{url}/oauth/token", refresh_token=token["refresh_token"])
    claims = _claims(token["access_token"])
    assert claims["aud"] == API
    assert claims["azp"] == client["client_id"]
    assert claims["scope"] == "read:repos offline_access"
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert _claims(refreshed["access_token"])["sub"] == claims["sub"] == "auth0|local-user"
    reused = httpx.post(
        f"{url}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"], **_secret(client)},
    )
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")  # rotated: one use


def _secret(client: dict[str, Any]) -> dict[str, str]:
    return {"client_id": client["client_id"], "client_secret": client["client_secret"]}


def _claims(token: str) -> dict[str, Any]:
    import json

    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        pytest.param({"code_verifier": "x" * 43}, 400, "invalid_grant", id="wrong-verifier"),
        pytest.param({"redirect_uri": "http://127.0.0.1:9/other"}, 400, "invalid_grant", id="other-redirect"),
        pytest.param({"resource": "https://other.example.com"}, 400, "invalid_target", id="other-resource"),
        pytest.param({"client_id": "unknown"}, 401, "invalid_client", id="unknown-client"),
    ],
)
def test_a_code_exchange_that_does_not_match_the_authorization_is_refused(
    served: tuple[LocalIssuer, str], change: dict[str, str], status: int, error: str
) -> None:
    _, url = served
    client = _register(url, token_endpoint_auth_method="none")
    verifier, challenge = _pkce()
    code = parse_qs(urlsplit(_authorize(url, client["client_id"], challenge).headers["location"]).query)["code"][0]
    exchange = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": client["client_id"],
        "code_verifier": verifier,
        "resource": API,
    }
    refused = httpx.post(f"{url}/oauth/token", data={**exchange, **change})
    assert (refused.status_code, refused.json()["error"]) == (status, error)
    if error != "invalid_client":  # the code was spent on the refused try: a code is good once
        again = httpx.post(f"{url}/oauth/token", data=exchange)
        assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize(
    ("extra", "status", "error"),
    [
        pytest.param({"code_challenge_method": "plain"}, 302, "invalid_request", id="plain-pkce"),
        pytest.param({"code_challenge": "short"}, 302, "invalid_request", id="bad-challenge"),
        pytest.param({"response_type": "token"}, 302, "unsupported_response_type", id="implicit"),
        pytest.param({"resource": "https://other.example.com"}, 302, "invalid_target", id="other-resource"),
        pytest.param(
            {"redirect_uri": "https://attacker.example/cb"}, 400, "invalid_request", id="unregistered-redirect"
        ),
        pytest.param({"client_id": "nobody"}, 400, "invalid_client", id="unknown-client"),
    ],
)
def test_an_authorization_request_it_cannot_approve_is_refused(
    served: tuple[LocalIssuer, str], extra: dict[str, str], status: int, error: str
) -> None:
    _, url = served
    client = _register(url, token_endpoint_auth_method="none")
    response = _authorize(url, client["client_id"], _pkce()[1], **extra)
    assert response.status_code == status
    if status == 302:  # back to the client, which the registered redirect URI proves it is
        assert response.headers["location"].startswith(REDIRECT + "?")
        assert parse_qs(urlsplit(response.headers["location"]).query)["error"] == [error]
    else:  # never redirected to an address nobody registered (RFC 6749 §4.1.2.1)
        assert "location" not in response.headers
        assert response.json()["error"] == error


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param(b"[]", "invalid_client_metadata", id="not-an-object"),
        pytest.param(b'{"redirect_uris": []}', "invalid_redirect_uri", id="no-redirect"),
        pytest.param(b'{"redirect_uris": ["http://x/cb#f"]}', "invalid_redirect_uri", id="fragment"),
        pytest.param(
            b'{"redirect_uris": ["http://x/cb"], "token_endpoint_auth_method": "private_key_jwt"}',
            "invalid_client_metadata",
            id="auth-method",
        ),
        pytest.param(
            b'{"redirect_uris": ["http://x/cb"], "grant_types": ["password"]}', "invalid_client_metadata", id="grant"
        ),
    ],
)
def test_a_registration_it_cannot_honour_is_refused(served: tuple[LocalIssuer, str], body: bytes, error: str) -> None:
    _, url = served
    response = httpx.post(f"{url}/oidc/register", content=body, headers={"content-type": "application/json"})
    assert (response.status_code, response.json()["error"]) == (400, error)
