"""The LocalIssuer as the authorization server an MCP client signs in with, offline.

What a real client (the MCP SDK's `OAuthClientProvider`) does against an Auth0 tenant, and
so what this answers: RFC 7591 dynamic registration (Auth0's ``/oidc/register``), the
authorization-code grant with PKCE (RFC 7636, S256 only, as OAuth 2.1 and MCP require) at
``/authorize`` that approves at once (there is no one to ask), with the RFC 9207 ``iss`` in the
redirect, and the token endpoint's ``authorization_code`` and ``refresh_token`` grants (RFC 6749
§4.1.3, §6). Tokens carry ``aud`` = the requested ``resource`` (RFC 8707), which must be the
issuer's API, as Auth0's Resource Parameter Compatibility Profile maps it.

State (clients, codes, refresh tokens) lives with each issuer, in memory: a test's issuer is
gone with the test.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit

from auth0_asgi._base64url import encode

from ._answer import Answer, oauth_error
from ._issuer import LocalIssuer

__all__ = ["LOGIN_SUBJECT", "authorize", "exchange", "register"]

#: The `sub` of the user the authorization endpoint signs in: there is only one.
LOGIN_SUBJECT: Final = "auth0|local-user"
_CODE_LIFETIME: Final = 60.0  # seconds, as RFC 6749 §4.1.2 recommends at most 10 minutes
_AUTH_METHODS: Final = ("none", "client_secret_post", "client_secret_basic")
_GRANT_TYPES: Final = frozenset({"authorization_code", "refresh_token"})
# RFC 7636 §4.2: BASE64URL(SHA256(verifier)), 43 characters; §4.1: verifiers are 43-128 of these.
_CHALLENGE: Final = re.compile(r"[A-Za-z0-9_-]{43}")
_VERIFIER: Final = re.compile(r"[A-Za-z0-9._~-]{43,128}")
#: Scopes an OIDC tenant always knows, besides the API's own.
_STANDARD_SCOPES: Final = ("openid", "profile", "email", "offline_access")


@dataclass(frozen=True, slots=True)
class _Client:
    client_id: str
    secret: str | None
    redirect_uris: tuple[str, ...]
    auth_method: str


@dataclass(frozen=True, slots=True)
class _Grant:
    """What one code or refresh token stands for."""

    client_id: str
    scope: str
    audience: str
    redirect_uri: str = ""
    challenge: str = ""
    expires_at: float = 0.0


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()  # the loopback server answers from several threads
        self.clients: dict[str, _Client] = {}
        self.codes: dict[str, _Grant] = {}
        self.refresh_tokens: dict[str, _Grant] = {}


_STATES: weakref.WeakKeyDictionary[LocalIssuer, _State] = weakref.WeakKeyDictionary()
_STATES_LOCK: Final = threading.Lock()


def _state(issuer: LocalIssuer) -> _State:
    with _STATES_LOCK:
        state = _STATES.get(issuer)
        if state is None:
            state = _STATES[issuer] = _State()
        return state


def supported_scopes(issuer: LocalIssuer) -> list[str]:
    """The scopes the issuer's discovery document lists: its API's and OIDC's."""
    return list(dict.fromkeys((*issuer.scopes, *_STANDARD_SCOPES)))


def register(issuer: LocalIssuer, body: bytes) -> Answer:
    """RFC 7591 §3: register the client `body` describes; 201 with its client information."""
    try:
        metadata = json.loads(body)
    except ValueError:
        metadata = None
    if not isinstance(metadata, dict):
        return oauth_error(400, "invalid_client_metadata", "send the client metadata as a JSON object")
    redirect_uris = metadata.get("redirect_uris")
    if not isinstance(redirect_uris, list) or not redirect_uris or not all(_is_redirect(u) for u in redirect_uris):
        return oauth_error(400, "invalid_redirect_uri", "give absolute redirect_uris without fragments")
    auth_method = metadata.get("token_endpoint_auth_method") or "client_secret_basic"  # RFC 7591 §2
    if auth_method not in _AUTH_METHODS:
        return oauth_error(400, "invalid_client_metadata", f"token_endpoint_auth_method must be one of {_AUTH_METHODS}")
    grant_types = metadata.get("grant_types") or ["authorization_code"]
    if not isinstance(grant_types, list) or not set(grant_types) <= _GRANT_TYPES:
        return oauth_error(400, "invalid_client_metadata", "grant_types: authorization_code and refresh_token only")
    client = _Client(
        client_id=secrets.token_urlsafe(16),
        secret=None if auth_method == "none" else secrets.token_urlsafe(32),
        redirect_uris=tuple(redirect_uris),
        auth_method=auth_method,
    )
    state = _state(issuer)
    with state.lock:
        state.clients[client.client_id] = client
    information: dict[str, Any] = {
        **{k: v for k, v in metadata.items() if k in ("client_name", "scope", "client_uri")},
        "client_id": client.client_id,
        "client_id_issued_at": int(time.time()),
        "redirect_uris": list(client.redirect_uris),
        "token_endpoint_auth_method": auth_method,
        "grant_types": grant_types,
        "response_types": ["code"],
    }
    if client.secret is not None:
        information["client_secret"] = client.secret
        information["client_secret_expires_at"] = 0  # RFC 7591 §3.2.1: never
    return Answer(201, information)


def _is_redirect(uri: object) -> bool:
    if not isinstance(uri, str):
        return False
    parts = urlsplit(uri)
    return bool(parts.scheme and (parts.netloc or parts.scheme not in ("http", "https"))) and not parts.fragment


def authorize(issuer: LocalIssuer, query: str) -> Answer:
    """``GET /authorize``: approve at once, redirecting (302) with a code, or with an error.

    Errors about the client or its redirect URI are shown (400), never redirected: RFC 6749
    §4.1.2.1, an unverified redirect URI would make this an open redirector.
    """
    try:
        params = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
    except ValueError:
        return oauth_error(400, "invalid_request", "malformed query")
    state = _state(issuer)
    with state.lock:
        client = state.clients.get(params.get("client_id", ""))
    redirect_uri = params.get("redirect_uri", "")
    if client is None:
        return oauth_error(400, "invalid_client", "unknown client_id: register first")
    if redirect_uri not in client.redirect_uris:
        return oauth_error(400, "invalid_request", "redirect_uri is not one the client registered")

    def back(**result: str) -> Answer:
        result = {**result, "iss": issuer.issuer}  # RFC 9207: which server answers
        if "state" in params:
            result["state"] = params["state"]
        separator = "&" if urlsplit(redirect_uri).query else "?"
        return Answer(302, {}, {"Location": redirect_uri + separator + urlencode(result)})

    if params.get("response_type") != "code":
        return back(error="unsupported_response_type")
    if params.get("code_challenge_method") != "S256" or not _CHALLENGE.fullmatch(params.get("code_challenge", "")):
        return back(error="invalid_request", error_description="PKCE with code_challenge_method=S256 is required")
    audience = params.get("resource", params.get("audience", issuer.audience))
    if audience != issuer.audience:
        return back(error="invalid_target", error_description=f"resource must be {issuer.audience}")
    code = secrets.token_urlsafe(32)
    grant = _Grant(
        client.client_id,
        _granted(issuer, params.get("scope")),
        audience,
        redirect_uri,
        params["code_challenge"],
        time.monotonic() + _CODE_LIFETIME,
    )
    with state.lock:
        state.codes[code] = grant
    return back(code=code)


def _granted(issuer: LocalIssuer, requested: str | None) -> str:
    known = supported_scopes(issuer)
    if requested is None:
        return " ".join(issuer.scopes)
    return " ".join(s for s in dict.fromkeys(requested.split(" ")) if s in known)


def _client_of(state: _State, params: Mapping[str, str], basic: tuple[str, str] | None) -> _Client | Answer:
    client_id, secret = basic if basic is not None else (params.get("client_id", ""), params.get("client_secret"))
    with state.lock:
        client = state.clients.get(client_id)
    if client is None:
        return oauth_error(401, "invalid_client", "unknown client")
    if client.secret is not None and (secret is None or not secrets.compare_digest(client.secret, secret)):
        return oauth_error(401, "invalid_client", "wrong or missing client secret")
    return client


def exchange(
    issuer: LocalIssuer, params: Mapping[str, str], basic: tuple[str, str] | None, proof_key: str | None
) -> Answer:
    """The token endpoint's ``authorization_code`` and ``refresh_token`` grants."""
    state = _state(issuer)
    client = _client_of(state, params, basic)
    if isinstance(client, Answer):
        return client
    if params["grant_type"] == "authorization_code":
        with state.lock:
            grant = state.codes.pop(params.get("code", ""), None)  # one use only (RFC 6749 §4.1.2)
        if grant is None or grant.client_id != client.client_id or grant.expires_at < time.monotonic():
            return oauth_error(400, "invalid_grant", "unknown, used or expired code")
        if params.get("redirect_uri") != grant.redirect_uri:
            return oauth_error(400, "invalid_grant", "redirect_uri differs from the authorization request's")
        verifier = params.get("code_verifier", "")
        digest = encode(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
        if not _VERIFIER.fullmatch(verifier) or not secrets.compare_digest(digest, grant.challenge):
            return oauth_error(400, "invalid_grant", "code_verifier does not match the code_challenge")
    else:
        with state.lock:
            grant = state.refresh_tokens.pop(params.get("refresh_token", ""), None)  # rotated on use
        if grant is None or grant.client_id != client.client_id:
            return oauth_error(400, "invalid_grant", "unknown or used refresh token")
    if params.get("resource", grant.audience) != grant.audience:
        return oauth_error(400, "invalid_target", f"resource must be {grant.audience}")
    # A user's token: no client-credentials gty.
    claims: dict[str, Any] = {"scope": grant.scope, "subject": LOGIN_SUBJECT, "aud": grant.audience, "gty": None}
    claims["azp"] = client.client_id
    if proof_key is None:
        token, token_type = issuer.token(**claims), "Bearer"
    else:
        token, token_type = issuer.dpop_token(proof_key, **claims), "DPoP"
    body: dict[str, Any] = {
        "access_token": token,
        "token_type": token_type,
        "expires_in": issuer.token_lifetime,
        "scope": grant.scope,
    }
    if "offline_access" in grant.scope.split(" "):
        refresh_token = secrets.token_urlsafe(32)
        with state.lock:
            state.refresh_tokens[refresh_token] = _Grant(client.client_id, grant.scope, grant.audience)
        body["refresh_token"] = refresh_token
    return Answer(200, body)
