"""What went wrong, in words a newcomer can act on: the causes behind the refusals Auth0 users meet.

The client's answer never changes (fixed descriptions); this module only names the likely cause
and its fix for the server's log (and for ``auth0-asgi explain``). It reads the refused token
without trusting it, so every value it quotes is shown `%r`-escaped and cut short, and it never
quotes the token itself.
"""

from __future__ import annotations

import binascii
import json
import time
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from auth0_asgi._base64url import decode_lenient
from auth0_asgi._uri import is_loopback
from auth0_asgi.errors import (
    AuthenticationError,
    DisallowedAlgorithmError,
    ExpiredTokenError,
    ImmatureTokenError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidRequestError,
    MalformedTokenError,
)

from .jws import is_safe_number, split_compact
from .policy import TokenPolicy

__all__ = ["Diagnosis", "diagnose", "loose_json", "token_of"]

_PLACEHOLDERS: Final = frozenset({"undefined", "null", "none", "nil", "[object object]", "bearer", "token"})
_QUOTES: Final = ('"', "'")
_SHOWN: Final = 80
# An ID token names its client as audience and carries these login-only claims.
_ID_TOKEN_CLAIMS: Final = ("nonce", "at_hash", "c_hash", "auth_time", "sid")


class Diagnosis(NamedTuple):
    """A recognised cause: a fixed `code` (for log fields and tests) and the sentence to log.

    `server_side`: the cause is this server's configuration (or clock, or the tenant's API
    settings), not one client's mistake: worth a WARNING, which Python's default logging shows.
    """

    code: str
    message: str
    server_side: bool = False


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return repr(text[:_SHOWN] + ("..." if len(text) > _SHOWN else ""))


def loose_json(segment: str) -> dict[str, Any] | None:
    """A segment's JSON object, decoded leniently (padding optional): for diagnosis only."""
    try:
        data = decode_lenient(segment)
        value = json.loads(data)
    except (binascii.Error, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _token_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    try:
        header_segment, payload_segment, _ = split_compact(token, ValueError)
    except ValueError:
        return None
    header, payload = loose_json(header_segment), loose_json(payload_segment)
    return (header, payload) if header is not None and payload is not None else None


def _without_scheme(issuer: str) -> str:
    return issuer.split("://", 1)[-1].rstrip("/").lower()


def _issuer_cause(claimed: object, settings: TokenPolicy, payload: Mapping[str, Any]) -> Diagnosis | None:
    if not isinstance(claimed, str):
        return None
    configured = [t.issuer for t in settings.trusted_issuers]
    shown = ", ".join(map(_shown, configured))
    for issuer in configured:
        if _without_scheme(issuer) == _without_scheme(claimed):
            # The same host spelled differently: a trailing slash, http, or case.
            return Diagnosis(
                "issuer_spelling",
                f"AUTH0_DOMAIN/AUTH0_ISSUER is {shown} but the token says {_shown(claimed)}: "
                "Auth0's issuer is exactly https://{domain}/ (with the slash)",
                server_side=True,
            )
    host = _without_scheme(claimed).split("/", 1)[0]
    tenants = {_without_scheme(issuer).split(".", 1)[0] for issuer in configured}
    if host.endswith(".auth0.com") and host.split(".", 1)[0] in tenants:
        return Diagnosis(
            "issuer_region",
            f"AUTH0_DOMAIN/AUTH0_ISSUER is {shown} but the token says {_shown(claimed)}: the same tenant "
            "name in another region's domain; copy the domain from the dashboard (Applications > your app)",
            server_side=True,
        )
    if _is_local(claimed) and all(_is_local(issuer) for issuer in configured):
        # The offline demo (or a test issuer): another port or host name than the one it signs as.
        return Diagnosis(
            "issuer_local",
            f"the token's issuer {_shown(claimed)} is a local issuer other than this one ({shown}): mint tokens "
            "for this demo with auth0-asgi token (--demo URL where it runs), or set AUTH0_DEMO_URL to the URL "
            "clients use before starting it",
        )
    audience = payload.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if any(a in settings.audience for a in audiences):
        return Diagnosis(
            "issuer_unknown",
            f"the token's issuer {_shown(claimed)} is not among {shown}, yet it names this API: if it is your "
            "tenant's custom domain, add it to AUTH0_DOMAIN (comma-separated)",
            server_side=True,
        )
    return None


def _is_local(issuer: str) -> bool:
    """Whether `issuer` is a plain-http issuer on this machine (the offline demo's kind)."""
    scheme, _, rest = issuer.partition("://")
    host = rest.split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    return scheme == "http" and is_loopback(host)


def _audience_cause(payload: Mapping[str, Any], settings: TokenPolicy) -> Diagnosis | None:
    audience = payload.get("aud")
    if any(name in payload for name in _ID_TOKEN_CLAIMS) or (isinstance(audience, str) and "://" not in audience):
        return Diagnosis(
            "id_token",
            f"this is an ID token (its aud {_shown(audience)} is a client id): send the access token, the "
            f"one requested with audience={_shown(settings.audience[0])}",
        )
    if audience is None:
        return None
    # Signed by a trusted issuer (the audience is checked after the signature), for another API:
    # one client's mistake, or, when no token passes at all, AUTH0_API_AUDIENCE names the wrong API.
    return Diagnosis(
        "audience_other_api",
        f"the token is for {_shown(audience)} but AUTH0_API_AUDIENCE is "
        f"{', '.join(map(_shown, settings.audience))}: if every token is refused so, set AUTH0_API_AUDIENCE to "
        "the API identifier the clients request (Auth0 dashboard: APIs > your API > Identifier)",
    )


def _clock_cause(error: AuthenticationError, payload: Mapping[str, Any], now: float, leeway: float) -> Diagnosis | None:
    iat = payload.get("iat")
    if isinstance(error, ExpiredTokenError) and is_safe_number(iat) and 0 <= now - iat < 300:
        return Diagnosis(
            "clock_ahead",
            f"the token was issued {now - iat:.0f}s ago (by its iat) yet has expired: this server's clock may be "
            "ahead (check NTP), or the API's token lifetime is very short",
            server_side=True,
        )
    if isinstance(error, ImmatureTokenError):
        for name in ("nbf", "iat"):
            value = payload.get(name)
            if is_safe_number(value) and value > now + leeway:
                return Diagnosis(
                    "clock_behind",
                    f"the token's {name} is {value - now:.0f}s ahead of this server's clock: if the token is "
                    "fresh, this server's clock is behind (check NTP), or raise AUTH0_LEEWAY",
                    server_side=True,
                )
    return None


def _unparsed_cause(token: str, settings: TokenPolicy) -> Diagnosis | None:
    """Causes visible without a JWS to parse: placeholders, quotes, JWE, opaque tokens."""
    if token.lower() in _PLACEHOLDERS:
        return Diagnosis(
            "placeholder_token",
            f"the client sent the text {_shown(token)} as its token: a front end sent an unset variable",
        )
    if len(token) > 2 and token[0] in _QUOTES and token[-1] == token[0] and _token_parts(token[1:-1]) is not None:
        return Diagnosis("quoted_token", "the token is wrapped in quotes: send it without them")
    segments = token.split(".")
    fix = _named_api_fix(settings)
    if len(segments) == 5:
        header = loose_json(segments[0]) or {}
        return Diagnosis(
            "encrypted_token",
            f"the token is encrypted (a JWE, alg {_shown(header.get('alg'))}): Auth0 issues one when the "
            f"token request names no API; {fix}",
        )
    if len(segments) == 1 and len(token) >= 16 and token.replace("-", "").replace("_", "").isalnum():
        return Diagnosis(
            "opaque_token",
            f"the token is not a JWT but an opaque string: Auth0 issues one when the token request names no API; {fix}",
        )
    return None


def _named_api_fix(settings: TokenPolicy) -> str:
    if settings.resource_url:
        # MCP clients send RFC 8707 resource, which Auth0 ignores unless the profile maps it to audience.
        return (
            f"MCP clients name it with resource={_shown(settings.resource_url)}, which Auth0 reads only with the "
            "tenant's Resource Parameter Compatibility Profile on (Settings > Advanced) and an API whose "
            "identifier is exactly that URL"
        )
    return f"request it with audience={_shown(settings.audience[0])}"


def diagnose(
    token: str, error: AuthenticationError, settings: TokenPolicy, now: float | None = None
) -> Diagnosis | None:
    """The recognised cause of `error` for `token`, if any (`now`: epoch seconds, default now)."""
    if isinstance(error, MalformedTokenError | InvalidRequestError):
        cause = _unparsed_cause(token, settings)
        if cause is not None:
            return cause
    parts = _token_parts(token)
    if parts is None:
        return None
    header, payload = parts
    if isinstance(error, InvalidIssuerError):
        return _issuer_cause(payload.get("iss"), settings, payload)
    if isinstance(error, InvalidAudienceError):
        return _audience_cause(payload, settings)
    if isinstance(error, DisallowedAlgorithmError) and str(header.get("alg", "")).upper().startswith("HS"):
        issuer = payload.get("iss")
        trusted = {t.issuer for t in settings.trusted_issuers}
        if isinstance(issuer, str) and (issuer in trusted or ".auth0.com/" in issuer):
            return Diagnosis(
                "symmetric_api",
                f"the token is signed with {_shown(header.get('alg'))}: the API is set to HS256 in the Auth0 "
                "dashboard (APIs > your API > Settings); choose RS256",
                server_side=True,
            )
    return _clock_cause(error, payload, time.time() if now is None else now, settings.leeway)


def token_of(authorization: bytes) -> str:
    """The token part of an Authorization value, as the diagnosis reads it (whatever the scheme)."""
    parts = authorization.decode("latin-1").split(None, 1)
    return parts[1].strip() if len(parts) > 1 else ""
