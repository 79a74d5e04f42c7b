"""auth0_asgi.testing: the LocalIssuer, in process and served on loopback, as users will wire it."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography import x509
from starlette.applications import Starlette

from auth0_asgi import Auth0Middleware, ConfigurationError, JWKSCache, UnknownSigningKeyError
from auth0_asgi.testing import (
    DEFAULT_AUDIENCE,
    DEFAULT_ISSUER,
    ISSUER_PATHS,
    LocalIssuer,
    issuer_app,
    load_or_create_private_key,
    serve_issuer,
    trust_issuers,
)

from .conftest import _rsa_private, asgi_client, demo_routes, serve_with_uvicorn

pytestmark = pytest.mark.anyio

INVALID_TOKEN_HEADER = (
    f'Bearer realm="{DEFAULT_AUDIENCE}", error="invalid_token", error_description="{{description}}", '
    f'DPoP realm="{DEFAULT_AUDIENCE}", algs="ES256"'
)


def _in_process(issuer: LocalIssuer, **options: Any) -> Auth0Middleware:
    options.setdefault("protected_prefixes", ["/api/private", "/api/admin"])
    return Auth0Middleware(Starlette(routes=demo_routes()), settings=issuer.settings(), keys=issuer, **options)


async def _get(app: Auth0Middleware, token: str, path: str = "/api/private") -> httpx.Response:
    async with asgi_client(app) as client:
        return await client.get(path, headers={"Authorization": f"Bearer {token}"})


async def test_a_minted_token_passes_in_process(auth0_issuer: LocalIssuer) -> None:
    response = await _get(_in_process(auth0_issuer), auth0_issuer.token(scope="read:messages"))
    assert response.status_code == 200
    assert response.json()["identity"] == "local-client@clients"
    assert response.json()["scopes"] == ["read:messages"]


async def test_minted_claims_follow_auth0s_shape_and_overrides(auth0_issuer: LocalIssuer) -> None:
    claims = jwt.decode(
        auth0_issuer.token(scope=["a", "b"], subject="svc@clients", org_id="org_1", gty=None),
        options={"verify_signature": False},
    )
    assert claims["iss"] == DEFAULT_ISSUER
    assert claims["aud"] == DEFAULT_AUDIENCE
    assert claims["sub"] == "svc@clients"
    assert claims["azp"] == "svc"
    assert claims["scope"] == "a b"
    assert claims["org_id"] == "org_1"
    assert "gty" not in claims
    assert claims["exp"] - claims["iat"] == 86400
    assert jwt.get_unverified_header(auth0_issuer.token())["kid"] == auth0_issuer.kid


BAD_VARIANTS = [
    pytest.param("expired_token", "The access token has expired", id="expired"),
    pytest.param("not_yet_valid_token", "The access token is not yet valid", id="not-yet-valid"),
    pytest.param("wrong_audience_token", "The access token was not issued for this API", id="wrong-audience"),
    pytest.param("wrong_issuer_token", "The access token issuer is not trusted", id="wrong-issuer"),
    pytest.param("unknown_kid_token", "The access token signing key is unknown", id="unknown-kid"),
    pytest.param("tampered_token", "The access token signature is invalid", id="tampered-signature"),
]


@pytest.mark.parametrize(("variant", "description"), BAD_VARIANTS)
async def test_each_bad_variant_gets_the_contract_answer_in_process(
    auth0_issuer: LocalIssuer, variant: str, description: str
) -> None:
    token = getattr(auth0_issuer, variant)()
    response = await _get(_in_process(auth0_issuer), token)
    assert response.status_code == 401
    assert response.json() == {"detail": description, "error": "invalid_token"}
    assert response.headers["www-authenticate"] == INVALID_TOKEN_HEADER.format(description=description)


@pytest.fixture
def served_issuer(auth0_issuer: LocalIssuer) -> Iterator[LocalIssuer]:
    with serve_issuer(auth0_issuer):
        yield auth0_issuer


@pytest.mark.parametrize(("variant", "description"), BAD_VARIANTS)
async def test_each_bad_variant_gets_the_contract_answer_over_http(
    served_issuer: LocalIssuer, variant: str, description: str
) -> None:
    app = Auth0Middleware(Starlette(routes=demo_routes()), settings=served_issuer.settings())
    async with asgi_client(app) as client:
        good = await client.get("/api/private", headers={"Authorization": f"Bearer {served_issuer.token()}"})
        bad = await client.get("/", headers={"Authorization": f"Bearer {getattr(served_issuer, variant)()}"})
    assert good.status_code == 200
    assert bad.status_code == 401
    assert bad.json() == {"detail": description, "error": "invalid_token"}
    assert bad.headers["www-authenticate"] == INVALID_TOKEN_HEADER.format(description=description)
    assert isinstance(app.key_set, JWKSCache)
    assert app.key_set.fetch_count == (2 if variant == "unknown_kid_token" else 1)


async def test_rotation_keeps_the_previous_key_until_it_is_retired(auth0_issuer: LocalIssuer) -> None:
    app = _in_process(auth0_issuer)
    first_kid = auth0_issuer.kid
    old_token = auth0_issuer.token()
    new_kid = auth0_issuer.rotate()
    new_token = auth0_issuer.token()
    assert new_kid != first_kid
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    assert {key["kid"] for key in auth0_issuer.jwks()["keys"]} == {first_kid, new_kid}
    assert (await _get(app, old_token)).status_code == 200
    assert (await _get(app, new_token)).status_code == 200
    auth0_issuer.retire(first_kid)
    refused = await _get(app, old_token)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "The access token signing key is unknown"
    assert (await _get(app, new_token)).status_code == 200


async def test_rotate_can_retire_at_once_and_the_current_key_cannot_be_retired(auth0_issuer: LocalIssuer) -> None:
    old_kid = auth0_issuer.kid
    auth0_issuer.rotate(retire_previous=True)
    assert [key["kid"] for key in auth0_issuer.jwks()["keys"]] == [auth0_issuer.kid]
    with pytest.raises(UnknownSigningKeyError):
        await auth0_issuer.get_signing_key(old_kid)
    with pytest.raises(ValueError, match="rotate first"):
        auth0_issuer.retire(auth0_issuer.kid)


@pytest.mark.parametrize("algorithm", ["ES256", "ES384", "PS256", "RS512"])
async def test_other_algorithms_on_request(algorithm: str) -> None:
    issuer = LocalIssuer(algorithm=algorithm)
    assert issuer.settings().algorithms == (algorithm,)
    assert jwt.get_unverified_header(issuer.token())["alg"] == algorithm
    assert (await _get(_in_process(issuer), issuer.token())).status_code == 200
    # An RS256-only app refuses them: the allow-list is the app's, not the issuer's.
    rs256_only = Auth0Middleware(
        Starlette(routes=demo_routes()), settings=LocalIssuer().settings(), keys=issuer, protected_prefixes=["/api"]
    )
    refused = await _get(rs256_only, issuer.token())
    assert refused.status_code == 401
    assert refused.json()["detail"] == "The access token algorithm is not allowed"


async def test_rotating_to_another_algorithm_publishes_both(auth0_issuer: LocalIssuer) -> None:
    auth0_issuer.rotate(algorithm="ES256")
    assert auth0_issuer.algorithm == "ES256"
    assert auth0_issuer.settings().algorithms == ("ES256", "RS256")
    assert (await _get(_in_process(auth0_issuer), auth0_issuer.token())).status_code == 200


@pytest.mark.parametrize("algorithm", ["HS256", "none", "RS1"])
def test_unusable_algorithms_are_refused(algorithm: str, auth0_issuer: LocalIssuer) -> None:
    with pytest.raises(ConfigurationError, match=f"algorithm='{algorithm}'"):
        LocalIssuer(algorithm=algorithm)
    with pytest.raises(ConfigurationError, match=f"algorithm='{algorithm}'"):
        auth0_issuer.rotate(algorithm=algorithm)


def test_environ_describes_the_served_issuer(auth0_issuer: LocalIssuer) -> None:
    assert auth0_issuer.jwks_url is None
    with serve_issuer(auth0_issuer) as base_url:
        environ = auth0_issuer.environ()
        assert environ == {
            "AUTH0_DOMAIN": "local-issuer.auth0-asgi.test",
            "AUTH0_API_AUDIENCE": DEFAULT_AUDIENCE,
            "AUTH0_ISSUER": DEFAULT_ISSUER,
            "AUTH0_ALGORITHMS": "RS256",
            "AUTH0_JWKS_URL": f"{base_url}/.well-known/jwks.json",
        }
        published = httpx.get(environ["AUTH0_JWKS_URL"]).json()
    assert published == auth0_issuer.jwks()
    assert all("d" not in key for key in published["keys"])  # public halves only
    assert auth0_issuer.jwks_url is None


# --- the token endpoint, over real HTTP ------------------------------------------------------------

TOKEN_REQUEST = {
    "grant_type": "client_credentials",
    "client_id": "my-client",
    "client_secret": "my-secret",
    "audience": DEFAULT_AUDIENCE,
}


@pytest.fixture
def scoped_issuer(auth0_signing_key: Any) -> Iterator[tuple[LocalIssuer, str]]:
    issuer = LocalIssuer(private_key=auth0_signing_key, scopes=["read:messages", "write:messages"])
    with serve_issuer(issuer) as base_url:
        yield issuer, base_url


@pytest.mark.parametrize("encoding", ["json", "form"])
def test_the_token_endpoint_answers_a_client_credentials_request(
    scoped_issuer: tuple[LocalIssuer, str], encoding: str
) -> None:
    issuer, base_url = scoped_issuer
    if encoding == "json":
        response = httpx.post(f"{base_url}/oauth/token", json=TOKEN_REQUEST)
    else:
        response = httpx.post(f"{base_url}/oauth/token", data=TOKEN_REQUEST)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86400
    assert body["scope"] == "read:messages write:messages"
    claims = jwt.decode(
        body["access_token"],
        jwt.PyJWK(issuer.jwks()["keys"][0]).key,
        algorithms=["RS256"],
        audience=DEFAULT_AUDIENCE,
        issuer=DEFAULT_ISSUER,
    )
    assert claims["sub"] == "my-client@clients"
    assert claims["azp"] == "my-client"
    assert jwt.get_unverified_header(body["access_token"])["kid"] == issuer.kid


def test_the_token_endpoint_grants_only_the_allowed_part_of_a_requested_scope(
    scoped_issuer: tuple[LocalIssuer, str],
) -> None:
    _, base_url = scoped_issuer
    response = httpx.post(f"{base_url}/oauth/token", json={**TOKEN_REQUEST, "scope": "read:messages admin"})
    assert response.json()["scope"] == "read:messages"


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        pytest.param({"grant_type": "password"}, 400, "unsupported_grant_type", id="grant-type"),
        pytest.param({"grant_type": None}, 400, "unsupported_grant_type", id="no-grant-type"),
        pytest.param({"audience": "https://other.example"}, 400, "invalid_target", id="audience"),
        pytest.param({"audience": None}, 400, "invalid_target", id="no-audience"),
        pytest.param({"client_secret": ""}, 400, "invalid_request", id="empty-secret"),
        pytest.param({"client_id": None}, 400, "invalid_request", id="no-client-id"),
    ],
)
def test_a_bad_token_request_gets_the_oauth_error_not_a_token(
    scoped_issuer: tuple[LocalIssuer, str], change: dict[str, Any], status: int, error: str
) -> None:
    _, base_url = scoped_issuer
    request = {name: value for name, value in {**TOKEN_REQUEST, **change}.items() if value is not None}
    response = httpx.post(f"{base_url}/oauth/token", json=request)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert "access_token" not in response.json()


def test_configured_clients_must_present_their_secret(auth0_issuer: LocalIssuer) -> None:
    issuer = LocalIssuer(clients={"my-client": "right"})
    with serve_issuer(issuer) as base_url:
        wrong = httpx.post(f"{base_url}/oauth/token", json={**TOKEN_REQUEST, "client_secret": "wrong"})
        unknown = httpx.post(
            f"{base_url}/oauth/token", json={**TOKEN_REQUEST, "client_id": "x", "client_secret": "right"}
        )
        right = httpx.post(f"{base_url}/oauth/token", json={**TOKEN_REQUEST, "client_secret": "right"})
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_client")
    assert right.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"),
    [
        pytest.param("GET", "/oauth/token", {}, b"", 405, id="token-by-get"),
        pytest.param("POST", "/.well-known/jwks.json", {}, b"", 405, id="jwks-by-post"),
        pytest.param("POST", "/oauth/token", {"content-type": "text/plain"}, b"x", 400, id="text-body"),
        pytest.param("POST", "/oauth/token", {"content-type": "application/json"}, b"[1]", 400, id="json-array"),
        pytest.param("POST", "/oauth/token", {"content-type": "application/json"}, b'{"a":1}', 400, id="non-string"),
        pytest.param("POST", "/oauth/token", {"content-type": "application/json"}, b"{", 400, id="bad-json"),
        pytest.param(
            "POST", "/oauth/token", {"content-type": "application/x-www-form-urlencoded"}, b"\xff", 400, id="bad-form"
        ),
        pytest.param("POST", "/oauth/token", {"content-type": "application/json"}, b" " * 70_000, 413, id="huge"),
        pytest.param("GET", "/elsewhere", {}, b"", 404, id="unknown-path"),
    ],
)
def test_the_endpoints_refuse_what_they_do_not_serve(
    scoped_issuer: tuple[LocalIssuer, str], method: str, path: str, headers: dict[str, str], body: bytes, status: int
) -> None:
    _, base_url = scoped_issuer
    response = httpx.request(method, base_url + path, headers=headers, content=body)
    assert response.status_code == status
    assert "error" in response.json()
    assert "access_token" not in response.json()


def test_discovery_describes_the_served_issuer(scoped_issuer: tuple[LocalIssuer, str]) -> None:
    _, base_url = scoped_issuer
    document = httpx.get(f"{base_url}/.well-known/openid-configuration").json()
    assert document["issuer"] == DEFAULT_ISSUER
    assert document["jwks_uri"] == f"{base_url}/.well-known/jwks.json"
    assert document["token_endpoint"] == f"{base_url}/oauth/token"
    assert document["grant_types_supported"] == ["authorization_code", "refresh_token", "client_credentials"]
    assert httpx.head(f"{base_url}/.well-known/jwks.json").content == b""


async def test_the_asgi_endpoints_answer_the_same(auth0_issuer: LocalIssuer) -> None:
    app = issuer_app(auth0_issuer)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://issuer.test") as client:
        token = await client.post("/oauth/token", json=TOKEN_REQUEST)
        jwks = await client.get("/.well-known/jwks.json")
        discovery = await client.get("/.well-known/openid-configuration")
        huge = await client.post("/oauth/token", content=b"{" * 70_000, headers={"content-type": "application/json"})
    assert token.status_code == 200
    assert "scope" in token.json()
    assert json.loads(jwks.content) == auth0_issuer.jwks()
    assert discovery.json()["token_endpoint"] == "http://issuer.test/oauth/token"
    assert huge.status_code == 413
    assert ISSUER_PATHS == (
        "/oauth/token",
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/authorize",
        "/oidc/register",
    )


@pytest.mark.parametrize(
    ("client", "allow_remote", "status"),
    [
        pytest.param(("127.0.0.1", 5000), False, 200, id="loopback-v4"),
        pytest.param(("::1", 5000), False, 200, id="loopback-v6"),
        pytest.param(("203.0.113.9", 5000), False, 403, id="remote-refused"),
        pytest.param(("not-an-address", 5000), False, 403, id="unknown-peer-refused"),
        pytest.param(("203.0.113.9", 5000), True, 200, id="remote-allowed"),
    ],
)
async def test_the_asgi_token_endpoint_answers_loopback_clients_only_unless_told(
    auth0_issuer: LocalIssuer, client: tuple[str, int], allow_remote: bool, status: int
) -> None:
    app = issuer_app(auth0_issuer, allow_remote=allow_remote)
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://issuer.test") as http:
        token = await http.post("/oauth/token", json=TOKEN_REQUEST)
        jwks = await http.get("/.well-known/jwks.json")
    assert token.status_code == status
    if status == 403:
        assert token.json() == {
            "error": "access_denied",
            "error_description": "the offline token endpoint answers loopback clients only",
        }
    assert jwks.status_code == 200  # public keys are public


@pytest.mark.parametrize(
    ("uvicorn_options", "headers", "status"),
    [
        pytest.param({"proxy_headers": False}, [], 200, id="direct"),
        # uvicorn trusting everyone ('*', usual in containers) takes the peer from the header:
        # a client anywhere could name 127.0.0.1. Any forwarding header means "through a proxy".
        pytest.param({"forwarded_allow_ips": "*"}, [("X-Forwarded-For", "127.0.0.1")], 403, id="xff-names-loopback"),
        pytest.param({"proxy_headers": False}, [("X-Forwarded-For", "203.0.113.9")], 403, id="xff-through-a-proxy"),
        pytest.param({"proxy_headers": False}, [("Forwarded", "for=127.0.0.1")], 403, id="forwarded"),
        pytest.param({"proxy_headers": False}, [("X-Real-IP", "127.0.0.1")], 403, id="x-real-ip"),
    ],
)
def test_the_token_endpoint_serves_only_direct_loopback_clients_through_real_uvicorn(
    auth0_issuer: LocalIssuer, uvicorn_options: dict[str, Any], headers: list[tuple[str, str]], status: int
) -> None:
    with serve_with_uvicorn(issuer_app(auth0_issuer), **uvicorn_options) as url:
        token = httpx.post(f"{url}/oauth/token", json=TOKEN_REQUEST, headers=headers)
    assert token.status_code == status, token.text
    if status == 403:
        assert token.json() == {
            "error": "access_denied",
            "error_description": "the offline token endpoint answers loopback clients only",
        }
    else:
        assert token.json()["token_type"] == "Bearer"


async def test_the_asgi_endpoints_ignore_other_scope_types(auth0_issuer: LocalIssuer) -> None:
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    app = issuer_app(auth0_issuer)
    await app({"type": "lifespan"}, receive, send)
    await app({"type": "http", "method": "POST", "path": "/oauth/token", "headers": []}, receive, send)
    assert sent == []


def test_keys_and_an_http_client_are_exclusive(auth0_issuer: LocalIssuer) -> None:
    with pytest.raises(ConfigurationError, match="keys and http_client"):
        Auth0Middleware(
            Starlette(), settings=auth0_issuer.settings(), keys=auth0_issuer, http_client=httpx.AsyncClient()
        )


async def test_auth0_env_points_an_app_reading_the_environment_at_the_served_issuer(
    auth0_env: LocalIssuer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    app = Auth0Middleware(Starlette(routes=demo_routes()), protected_prefixes=["/api/private"])
    assert app.settings.jwks_url == auth0_env.jwks_url
    response = await _get(app, auth0_env.token())
    refused = await _get(app, auth0_env.wrong_audience_token())
    assert response.status_code == 200
    assert refused.status_code == 401


# --- keys kept in a file ---------------------------------------------------------------------


def test_a_key_file_is_made_once_and_read_by_everyone_after(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "key.pem"
    keys: list[Any] = []
    # Twelve processes' worth of first uses at once: one file appears, everyone gets its key.
    threads = [threading.Thread(target=lambda: keys.append(load_or_create_private_key(path))) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    numbers = {key.private_numbers().d for key in keys}
    assert len(keys) == 12
    assert len(numbers) == 1
    assert [p.name for p in path.parent.iterdir()] == ["key.pem"]  # no temporary file left behind
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert LocalIssuer(private_key=keys[0]).kid == LocalIssuer(private_key=load_or_create_private_key(path)).kid


@pytest.mark.parametrize(
    ("content", "algorithm", "message"),
    [
        pytest.param(b"not a key", "RS256", "not an unencrypted PEM private key", id="garbage"),
        pytest.param(None, "ES256", "not a key for ES256; delete it to make a new one", id="rsa-key-for-es256"),
    ],
)
def test_a_key_file_with_something_else_is_refused(
    tmp_path: Path, content: bytes | None, algorithm: str, message: str
) -> None:
    path = tmp_path / "key.pem"
    if content is None:
        load_or_create_private_key(path, "RS256")
    else:
        path.write_bytes(content)
    with pytest.raises(ConfigurationError, match=re.escape(f"key file {str(path)!r}: {message}")):
        load_or_create_private_key(path, algorithm)


# --- several issuers ----------------------------------------------------------------------------


async def test_several_local_issuers_stand_in_for_custom_domains(
    auth0_issuer_factory: Callable[[str], LocalIssuer],
) -> None:
    login, tenant = auth0_issuer_factory("login.example.test"), auth0_issuer_factory("dev-x.us.auth0.test")
    stranger = auth0_issuer_factory("stranger.example.test")
    app = Auth0Middleware(Starlette(routes=demo_routes()), **trust_issuers(login, tenant), protected_prefixes=["/api"])
    async with asgi_client(app) as client:
        answers = {
            name: await client.get("/api/private", headers={"Authorization": f"Bearer {token}"})
            for name, token in {
                "login": login.token(),
                "tenant": tenant.token(),
                "stranger": stranger.token(),
                # each issuer verifies only its own tokens: tenant's key under login's iss
                "crossed": tenant.token(iss=login.issuer),
            }.items()
        }
    assert {name: answer.status_code for name, answer in answers.items()} == {
        "login": 200,
        "tenant": 200,
        "stranger": 401,
        "crossed": 401,
    }
    assert answers["stranger"].json()["detail"] == "The access token issuer is not trusted"
    assert answers["crossed"].json()["detail"] == "The access token signing key is unknown"


def test_trust_issuers_needs_https_issuers_of_a_host(auth0_issuer: LocalIssuer) -> None:
    with pytest.raises(ConfigurationError, match="name at least one LocalIssuer"):
        trust_issuers()
    odd = LocalIssuer(issuer="https://tenant.example.test/path/", private_key=_rsa_private(0))
    with pytest.raises(ConfigurationError, match=re.escape("issuer='https://tenant.example.test/path/'")):
        trust_issuers(auth0_issuer, odd)


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_the_key_set_has_the_shape_auth0_publishes(algorithm: str) -> None:
    issuer = LocalIssuer(algorithm=algorithm)
    (jwk,) = issuer.jwks()["keys"]
    numbers = ["n", "e"] if algorithm == "RS256" else ["crv", "x", "y"]
    assert list(jwk) == ["kty", "use", *numbers, "kid", "x5t", "x5c", "alg"]  # and no key_ops
    assert (jwk["use"], jwk["alg"], jwk["kid"]) == ("sig", algorithm, issuer.kid)
    der = base64.b64decode(jwk["x5c"][0], validate=True)
    certificate = x509.load_der_x509_certificate(der)
    assert certificate.issuer == certificate.subject  # self-signed, as a tenant's
    fitted = jwt.PyJWK({name: value for name, value in jwk.items() if name not in ("x5c", "x5t")})
    assert certificate.public_key().public_numbers() == fitted.key.public_numbers()  # type: ignore[union-attr]
    sha1 = hashlib.sha1(der, usedforsecurity=False).digest()
    assert jwk["x5t"] == base64.urlsafe_b64encode(sha1).rstrip(b"=").decode()
    # PyJWT's client, as the tutorial's code uses it, takes the key set and verifies a token.
    with serve_issuer(issuer) as url:
        signing_key = jwt.PyJWKClient(f"{url}/.well-known/jwks.json").get_signing_key_from_jwt(issuer.token())
        claims = jwt.decode(issuer.token(), signing_key.key, algorithms=[algorithm], audience=issuer.audience)
    assert claims["iss"] == issuer.issuer


async def test_an_issuer_with_a_path_verifies_its_own_tokens() -> None:
    # A demo behind a proxy under /svc names that URL as its issuer (AUTH0_DEMO_URL).
    issuer = LocalIssuer(issuer="https://host.example/svc/", private_key=_rsa_private(0))
    assert issuer.settings().issuer == "https://host.example/svc/"
    app = Auth0Middleware(Starlette(routes=demo_routes()), settings=issuer.settings(), keys=issuer)
    async with asgi_client(app) as client:
        answer = await client.get("/api/private", headers={"Authorization": f"Bearer {issuer.token()}"})
    assert answer.status_code == 200, answer.text
