"""The offline /oauth/token with the clients our users use: the auth0-python SDK and Authlib.

Each client gets its token from a served LocalIssuer (or the offline demo under uvicorn), and
the token must then pass the middleware. Details of the token endpoint's own answers (client
authentication methods, repeated parameters, 405 with Allow, root_path) are tabled here too.
"""

from __future__ import annotations

import base64
import contextlib
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from auth0.authentication import GetToken
from auth0.authentication.exceptions import Auth0Error as SDKError
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.integrations.base_client.errors import OAuthError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_asgi import Auth0Middleware
from auth0_asgi.testing import DEFAULT_AUDIENCE, DPoPKey, LocalIssuer, serve_issuer

from .conftest import asgi_client
from .test_demo_app import serving_demo

with warnings.catch_warnings():
    # Authlib 1.9 nudges toward the httpx2 fork when its httpx client is imported, through an
    # "always" filter of its own that pytest's settings cannot override. Our users use httpx.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuth2Client

pytestmark = pytest.mark.anyio

REALM = 'Basic realm="https://local-issuer.auth0-asgi.test/"'


@pytest.fixture
def served(auth0_signing_key: Any) -> Iterator[tuple[LocalIssuer, str]]:
    issuer = LocalIssuer(private_key=auth0_signing_key, scopes=["read:messages"], clients={"my-client": "my-secret"})
    with serve_issuer(issuer) as base_url:
        yield issuer, base_url


async def _passes_the_middleware(issuer: LocalIssuer, token: str) -> dict[str, Any]:
    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity, "scopes": sorted(request.auth.scopes)})

    app = Auth0Middleware(Starlette(routes=[Route("/api/private", whoami)]), settings=issuer.settings(), keys=issuer)
    async with asgi_client(app) as client:
        response = await client.get("/api/private", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_auth0_python_sdk_gets_a_token_that_passes(served: tuple[LocalIssuer, str]) -> None:
    issuer, base_url = served
    # The SDK posts JSON with "organization": null, which Auth0 takes as absent.
    sdk = GetToken(base_url.removeprefix("http://"), "my-client", client_secret="my-secret", protocol="http")
    answer = sdk.client_credentials(DEFAULT_AUDIENCE)
    assert (answer["token_type"], answer["scope"], answer["expires_in"]) == ("Bearer", "read:messages", 86400)
    assert await _passes_the_middleware(issuer, answer["access_token"]) == {
        "sub": "my-client@clients",
        "scopes": ["read:messages"],
    }


async def test_the_auth0_python_sdk_sees_a_wrong_secret_as_invalid_client(served: tuple[LocalIssuer, str]) -> None:
    _, base_url = served
    sdk = GetToken(base_url.removeprefix("http://"), "my-client", client_secret="wrong", protocol="http")
    with pytest.raises(SDKError) as info:
        sdk.client_credentials(DEFAULT_AUDIENCE)
    assert (info.value.status_code, info.value.error_code) == (401, "invalid_client")


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_authlib_gets_a_token_with_either_client_authentication(
    served: tuple[LocalIssuer, str], method: str
) -> None:
    issuer, base_url = served
    async with AsyncOAuth2Client("my-client", "my-secret", token_endpoint_auth_method=method) as client:
        token = await client.fetch_token(
            f"{base_url}/oauth/token", grant_type="client_credentials", audience=DEFAULT_AUDIENCE
        )
    assert token["token_type"] == "Bearer"
    assert (await _passes_the_middleware(issuer, token["access_token"]))["sub"] == "my-client@clients"


def test_authlib_with_a_wrong_secret_over_basic_gets_invalid_client(served: tuple[LocalIssuer, str]) -> None:
    _, base_url = served
    with OAuth2Client("my-client", "wrong") as client, pytest.raises(OAuthError) as info:
        client.fetch_token(f"{base_url}/oauth/token", grant_type="client_credentials", audience=DEFAULT_AUDIENCE)
    assert info.value.error == "invalid_client"


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}
GRANT = f"grant_type=client_credentials&audience={DEFAULT_AUDIENCE}"


@pytest.mark.parametrize(
    ("headers", "body", "status", "error", "challenge"),
    [
        pytest.param({**FORM, "authorization": _basic("my-client", "my-secret")}, GRANT, 200, None, None, id="basic"),
        pytest.param(
            {**FORM, "authorization": "basic " + _basic("my-client", "my-secret")[6:]},
            GRANT,
            200,
            None,
            None,
            id="basic-scheme-in-lower-case",
        ),
        pytest.param(
            {**FORM, "authorization": _basic("my%2Dclient", "my-secret")},
            GRANT,
            200,
            None,
            None,
            id="basic-form-urlencoded-id",
        ),
        pytest.param(
            {**FORM, "authorization": _basic("my-client", "my-secret")},
            GRANT + "&client_id=my-client",
            200,
            None,
            None,
            id="basic-with-the-same-client-id-in-the-body",
        ),
        pytest.param(
            {**FORM, "authorization": _basic("my-client", "wrong")},
            GRANT,
            401,
            "invalid_client",
            REALM,
            id="basic-wrong",
        ),
        pytest.param(
            {**FORM, "authorization": "Basic !!!"}, GRANT, 401, "invalid_client", REALM, id="basic-not-base64"
        ),
        pytest.param(
            {**FORM, "authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
            GRANT,
            401,
            "invalid_client",
            REALM,
            id="basic-without-colon",
        ),
        pytest.param(
            {**FORM, "authorization": _basic("my-client", "my-secret")},
            GRANT + "&client_secret=my-secret",
            400,
            "invalid_request",
            None,
            id="basic-and-post-together",
        ),
        pytest.param(
            {**FORM, "authorization": _basic("my-client", "my-secret")},
            GRANT + "&client_id=other",
            400,
            "invalid_request",
            None,
            id="basic-and-another-client-id",
        ),
        pytest.param(
            FORM,
            GRANT + "&client_id=my-client&client_secret=my-secret&client_id=other",
            400,
            "invalid_request",
            None,
            id="repeated-form-parameter",
        ),
        pytest.param(
            FORM,
            GRANT + "&client_id=my-client&client_secret=my-secret&audience=x",
            400,
            "invalid_request",
            None,
            id="repeated-audience",
        ),
        pytest.param(
            JSON,
            '{"grant_type":"client_credentials","client_id":"my-client","client_secret":"my-secret",'
            f'"audience":"{DEFAULT_AUDIENCE}","audience":"https://other.test"}}',
            400,
            "invalid_request",
            None,
            id="repeated-json-member",
        ),
        pytest.param(
            JSON,
            '{"grant_type":"client_credentials","client_id":"my-client","client_secret":"my-secret",'
            f'"audience":"{DEFAULT_AUDIENCE}","organization":null,"scope":null}}',
            200,
            None,
            None,
            id="json-nulls-are-absent",
        ),
        pytest.param(
            JSON,
            '{"grant_type":"client_credentials","client_id":"my-client","client_secret":"my-secret",'
            f'"audience":"{DEFAULT_AUDIENCE}","organization":7}}',
            400,
            "invalid_request",
            None,
            id="json-number",
        ),
        pytest.param(
            {**FORM, "authorization": "Bearer abc"},
            GRANT,
            400,
            "invalid_request",
            None,
            id="another-scheme-is-no-client-authentication",
        ),
    ],
)
def test_client_authentication_and_parameters(
    served: tuple[LocalIssuer, str],
    headers: dict[str, str],
    body: str,
    status: int,
    error: str | None,
    challenge: str | None,
) -> None:
    _, base_url = served
    response = httpx.post(f"{base_url}/oauth/token", headers=headers, content=body.encode())
    assert response.status_code == status, response.text
    assert response.json().get("error") == error
    assert ("access_token" in response.json()) is (status == 200)
    assert response.headers.get("www-authenticate") == challenge


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        pytest.param("GET", "/oauth/token", "POST", id="token-by-get"),
        pytest.param("PUT", "/oauth/token", "POST", id="token-by-put"),
        pytest.param("POST", "/.well-known/jwks.json", "GET, HEAD", id="jwks-by-post"),
        pytest.param("DELETE", "/.well-known/openid-configuration", "GET, HEAD", id="discovery-by-delete"),
    ],
)
def test_a_405_names_the_allowed_methods(served: tuple[LocalIssuer, str], method: str, path: str, allow: str) -> None:
    _, base_url = served
    response = httpx.request(method, base_url + path)
    assert (response.status_code, response.headers["allow"], response.json()["error"]) == (
        405,
        allow,
        "invalid_request",
    )


@contextlib.contextmanager
def stripping_proxy(upstream: str, prefix: str) -> Iterator[str]:
    """A loopback reverse proxy that strips `prefix` and keeps Host, as uvicorn --root-path expects."""

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            if not self.path.startswith(prefix + "/"):
                self.send_error(404)
                return
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "content-length")}
            answer = httpx.request(self.command, upstream + self.path[len(prefix) :], headers=headers, content=body)
            self.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = _forward

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_the_offline_demo_under_a_root_path_serves_its_issuer_to_authlib(tmp_path: Path) -> None:
    # uvicorn --root-path /base behind a proxy that strips /base: what the discovery document
    # advertises must work through the proxy, and the API must stay protected.
    with serving_demo(tmp_path, "--root-path", "/base") as upstream, stripping_proxy(upstream, "/base") as proxy:
        discovery = httpx.get(f"{proxy}/base/.well-known/openid-configuration").json()
        assert discovery["token_endpoint"] == f"{proxy}/base/oauth/token"
        assert discovery["jwks_uri"] == f"{proxy}/base/.well-known/jwks.json"
        keys = httpx.get(discovery["jwks_uri"])
        with OAuth2Client("demo-client", "demo-secret") as client:
            token = client.fetch_token(
                discovery["token_endpoint"], grant_type="client_credentials", audience=DEFAULT_AUDIENCE
            )
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        private = httpx.get(f"{proxy}/base/api/private", headers=bearer)
        anonymous = httpx.get(f"{proxy}/base/api/private")
        direct = httpx.post(f"{upstream}/oauth/token", json={"grant_type": "client_credentials"})
    assert keys.status_code == 200
    assert [key["kid"] for key in keys.json()["keys"]] == [jwt.get_unverified_header(token["access_token"])["kid"]]
    assert (private.status_code, private.json()["data"]["sub"]) == (200, "demo-client@clients")
    assert (anonymous.status_code, anonymous.json()) == (401, {"detail": "Not authenticated"})
    assert (direct.status_code, direct.json()["error"]) == (400, "invalid_request")  # routed, not 405


# --- DPoP at the token endpoint (RFC 9449 §5) -------------------------------------------------

_CLIENT = {"grant_type": "client_credentials", "client_id": "my-client", "client_secret": "my-secret"}


def _token_request(base_url: str, *proofs: str) -> httpx.Response:
    headers = [("DPoP", proof) for proof in proofs]
    return httpx.post(f"{base_url}/oauth/token", data={**_CLIENT, "audience": DEFAULT_AUDIENCE}, headers=headers)


async def test_a_valid_proof_gets_a_dpop_bound_token_that_passes_with_dpop_only(
    served: tuple[LocalIssuer, str],
) -> None:
    issuer, base_url = served
    key = DPoPKey()
    answer = _token_request(base_url, key.proof("POST", f"{base_url}/oauth/token"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["token_type"], body["scope"]) == ("DPoP", "read:messages")
    assert jwt.decode(body["access_token"], options={"verify_signature": False})["cnf"] == {"jkt": key.thumbprint}

    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"jkt": request.user.proof_key_thumbprint})

    app = Auth0Middleware(Starlette(routes=[Route("/api/private", whoami)]), settings=issuer.settings(), keys=issuer)
    token = body["access_token"]
    async with asgi_client(app) as client:
        proof = key.proof("GET", "http://testserver/api/private", access_token=token)
        with_dpop = await client.get("/api/private", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
        as_bearer = await client.get("/api/private", headers={"Authorization": f"Bearer {token}"})
    assert (with_dpop.status_code, with_dpop.json()) == (200, {"jkt": key.thumbprint})
    assert (as_bearer.status_code, as_bearer.json()["error"]) == (401, "invalid_token")


@pytest.mark.parametrize(
    "proofs",
    [
        pytest.param(lambda key, url: [key.proof("POST", url + "/other")], id="proof-for-another-url"),
        pytest.param(lambda key, url: [key.proof("GET", url)], id="proof-for-another-method"),
        pytest.param(lambda key, url: [key.proof("POST", url, headers={"typ": "JWT"})], id="wrong-typ"),
        pytest.param(lambda key, url: [key.proof("POST", url), key.proof("POST", url)], id="two-proofs"),
        pytest.param(lambda key, url: ["not-a-proof"], id="garbage"),
    ],
)
def test_a_bad_proof_at_the_token_endpoint_is_invalid_dpop_proof(served: tuple[LocalIssuer, str], proofs: Any) -> None:
    _, base_url = served
    answer = _token_request(base_url, *proofs(DPoPKey(), f"{base_url}/oauth/token"))
    assert (answer.status_code, answer.json()) == (
        400,
        {"error": "invalid_dpop_proof", "error_description": "the DPoP proof is invalid"},
    )


def test_the_offline_demo_issues_dpop_tokens_its_api_accepts(tmp_path: Path) -> None:
    key = DPoPKey("EdDSA")  # the token endpoint takes any asymmetric proof algorithm, as Auth0's does
    with serving_demo(tmp_path, AUTH0_DEMO_OFFLINE="true", AUTH0_DPOP_ALGORITHMS="ES256,EdDSA") as url:
        answer = httpx.post(
            f"{url}/oauth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": "demo-client",
                "client_secret": "demo-secret",
                "audience": DEFAULT_AUDIENCE,
            },
            headers={"DPoP": key.proof("POST", f"{url}/oauth/token")},
        )
        token = answer.json()["access_token"]
        proof = key.proof("GET", f"{url}/api/private", access_token=token)
        private = httpx.get(f"{url}/api/private", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
        replayed = httpx.get(f"{url}/api/private", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert (answer.status_code, answer.json()["token_type"]) == (200, "DPoP")
    assert (private.status_code, private.json()["data"]["sub"]) == (200, "demo-client@clients")
    assert (replayed.status_code, replayed.json()["error"]) == (401, "invalid_dpop_proof")
