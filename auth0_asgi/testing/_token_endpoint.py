"""The LocalIssuer's `POST /oauth/token`: RFC 6749 §4.4 client credentials, as Auth0 takes it
(and the authorization-code and refresh-token grants of registered clients: `_authorization`).

Parameters come as a form (RFC 6749 §3.2) or as JSON (what Auth0's SDKs send), each at most
once; members given as JSON null count as absent, as Auth0 treats them (the auth0-python SDK
sends ``"organization": null``). The client authenticates in the body (`client_secret_post`)
or with HTTP Basic (`client_secret_basic`, RFC 6749 §2.3.1, Authlib's default), never both.
With a valid `DPoP` proof for ``POST`` to this endpoint (RFC 9449 §5), the token is bound to the
proof's key (`cnf.jkt`) and its `token_type` is ``DPoP``, as Auth0 answers; a bad proof gets
400 ``invalid_dpop_proof``.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from auth0_asgi._uri import normalise_url
from auth0_asgi.dpop import DPOP_ALGORITHMS, ProofChecker
from auth0_asgi.errors import InvalidDPoPProofError

from ._answer import Answer, oauth_error
from ._authorization import exchange
from ._issuer import LocalIssuer

__all__ = ["token_request"]

# Auth0 takes proofs of any asymmetric algorithm at its token endpoint.
_PROOFS = ProofChecker(algorithms=sorted(DPOP_ALGORITHMS))


class _Refused(Exception):
    def __init__(self, answer: Answer) -> None:
        self.answer = answer


def _invalid_request(description: str) -> _Refused:
    return _Refused(oauth_error(400, "invalid_request", description))


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _invalid_request("a parameter is repeated")  # RFC 6749 §3.2
    return result


def _parameters(content_type: str, body: bytes) -> dict[str, str]:
    media_type = content_type.split(";", 1)[0].strip().lower()
    try:
        if media_type == "application/json":
            value = json.loads(body, object_pairs_hook=_no_repeats)
            if isinstance(value, dict) and all(v is None or isinstance(v, str) for v in value.values()):
                return {name: v for name, v in value.items() if v is not None}
        elif media_type == "application/x-www-form-urlencoded":
            return _no_repeats(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body)))
    except (ValueError, UnicodeDecodeError):
        pass
    raise _invalid_request("send a JSON object of strings or a form, each parameter once")


def _basic_credentials(authorization: str, realm: str) -> tuple[str, str]:
    # RFC 6749 §2.3.1: base64 of the form-urlencoded id and secret, joined by a colon.
    challenge = {"WWW-Authenticate": f'Basic realm="{realm}"'}
    _scheme, _, encoded = authorization.strip().partition(" ")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    client_id, colon, client_secret = decoded.partition(":")
    if not colon:
        raise _Refused(oauth_error(401, "invalid_client", "malformed Basic client authentication", challenge))
    return unquote_plus(client_id), unquote_plus(client_secret)


def _is_basic(authorization: str) -> bool:
    scheme = authorization.split(None, 1)[:1]
    return bool(scheme) and scheme[0].lower() == "basic"  # RFC 9110 §11.1: case-insensitive


def _client(issuer: LocalIssuer, params: Mapping[str, str], authorization: str | None) -> str:
    """The authenticated client id; raises _Refused with the RFC 6749 answer otherwise."""
    challenge: dict[str, str] = {}
    if authorization is not None and not _is_basic(authorization):
        authorization = None  # another scheme is no client authentication of ours
    if authorization is not None:
        if "client_secret" in params:
            raise _invalid_request("use one client authentication method, not two")  # RFC 6749 §2.3
        client_id, client_secret = _basic_credentials(authorization, issuer.issuer)
        if params.get("client_id", client_id) != client_id:
            raise _invalid_request("client_id differs from the authenticated client")
        challenge = {"WWW-Authenticate": f'Basic realm="{issuer.issuer}"'}
    else:
        client_id, client_secret = params.get("client_id", ""), params.get("client_secret", "")
    if not client_id or not client_secret:
        raise _invalid_request("client_id and client_secret are required")
    if issuer.clients is not None and not secrets.compare_digest(
        issuer.clients.get(client_id, "").encode(), client_secret.encode()
    ):
        # §5.2: a client that authenticated with a header gets 401 and that scheme's challenge.
        raise _Refused(oauth_error(401, "invalid_client", "unknown client or wrong secret", challenge))
    return client_id


def _proof_key(proofs: list[str], url: str) -> str | None:
    """The thumbprint of the request's DPoP proof key, None without a proof; _Refused for a bad one."""
    if not proofs:
        return None
    refusal = _Refused(oauth_error(400, "invalid_dpop_proof", "the DPoP proof is invalid"))
    if len(proofs) > 1:
        raise refusal
    expected = normalise_url(url)
    try:
        proof = _PROOFS.check(
            proofs[0], method="POST", target_matches=lambda htu: normalise_url(htu) == expected, access_token=None
        )
    except InvalidDPoPProofError:
        raise refusal from None
    return proof.thumbprint


def token_request(
    issuer: LocalIssuer,
    *,
    content_type: str,
    body: bytes,
    authorization: str | None,
    dpop_proofs: list[str] | None = None,
    url: str = "",
) -> Answer:
    """The answer to one `POST /oauth/token` at `url` with this body, Authorization header and
    `DPoP` header values."""
    try:
        proof_key = _proof_key(dpop_proofs or [], url)
        params = _parameters(content_type, body)
        grant_type = params.get("grant_type")
        if grant_type in ("authorization_code", "refresh_token"):
            basic = None
            if authorization is not None and _is_basic(authorization):
                basic = _basic_credentials(authorization, issuer.issuer)
            return exchange(issuer, params, basic, proof_key)
        if grant_type != "client_credentials":
            return oauth_error(
                400,
                "unsupported_grant_type",
                "grant_type must be client_credentials, authorization_code or refresh_token",
            )
        client_id = _client(issuer, params, authorization)
    except _Refused as refusal:
        return refusal.answer
    if params.get("audience") != issuer.audience:
        # RFC 8707 §2: the audience (Auth0's resource indicator) names no API of this issuer.
        return oauth_error(400, "invalid_target", f"audience must be {issuer.audience}")
    requested = params.get("scope")
    granted = issuer.scopes if requested is None else [s for s in requested.split() if s in issuer.scopes]
    scope = " ".join(granted)
    subject = f"{client_id}@clients"
    if proof_key is None:
        token, token_type = issuer.token(scope=scope, subject=subject), "Bearer"
    else:
        token, token_type = issuer.dpop_token(proof_key, scope=scope, subject=subject), "DPoP"
    return Answer(
        200, {"access_token": token, "token_type": token_type, "expires_in": issuer.token_lifetime, "scope": scope}
    )
