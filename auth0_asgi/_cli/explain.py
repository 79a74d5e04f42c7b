"""``auth0-asgi explain``: a token's checks one by one in plain words, then the worker's own verdict.

The per-check lines explain; the verdict does not: it is what the verifier says of the token,
then what the real middleware answers a request carrying it (at ``/`` and under each prefix the
settings give step-up or anonymous-session rules), so "accepted" means a worker would let it
through, and a token any path refuses is called refused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Final, TextIO

from auth0_asgi._tokens.claim_checks import ClaimChecks
from auth0_asgi._tokens.confirmation import BINDINGS, BINDINGS_BY_LABEL, Evidence, check_confirmation, proved
from auth0_asgi._tokens.diagnosis import diagnose
from auth0_asgi._tokens.jws import json_object, parse_compact
from auth0_asgi._tokens.signature import signature_check
from auth0_asgi.errors import (
    AuthenticationError,
    CertificateBindingError,
    ConfigurationError,
    DisallowedAlgorithmError,
    ExpiredTokenError,
    ImmatureTokenError,
    SigningKeysUnavailableError,
)
from auth0_asgi.jwks import JWKSCache
from auth0_asgi.middleware import Auth0Middleware

from .plain import duration, fetch_failure
from .source import TokenSource

__all__ = ["accepting_app", "explain", "plain_token"]

_SHOWN: Final = 100  # characters of a claim shown: a hostile token may hold megabytes


async def accepting_app(scope: Any, receive: Any, send: Any) -> None:
    """The app behind the CLI's middleware: a request that reaches it was let through."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def plain_token(text: str) -> tuple[str, str | None]:
    """The token in what was pasted, and a note when something around it was dropped.

    Raises ConfigurationError for nothing at all, with how to give a token.
    """
    token = text.strip()
    note = None
    scheme, _, rest = token.partition(" ")
    if scheme.lower() in ("bearer", "dpop"):
        if not rest.strip():
            raise ConfigurationError(f"no token given after {scheme!r}: paste the token itself (it starts with eyJ)")
        token, note = rest.strip(), f"note: read the token after {scheme!r}; give the token alone next time"
    elif token.lower().startswith("authorization:"):
        raise ConfigurationError("give the token alone, not the Authorization header line")
    if not token:
        raise ConfigurationError(
            'no token given: pass it as the argument (auth0-asgi explain "$TOKEN") or on stdin '
            '(echo "$TOKEN" | auth0-asgi explain)'
        )
    return token, note


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return repr(text[:_SHOWN]) if isinstance(value, str) else text[:_SHOWN]


@dataclass
class _Token:
    text: str
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


class _Explainer:
    def __init__(self, source: TokenSource, now: Callable[[], float]) -> None:
        self.settings = source.settings
        self.now = now
        self.middleware = Auth0Middleware(accepting_app, settings=source.settings, keys=source.keys)
        self.checks = ClaimChecks(source.settings, now)

    async def key_for(self, token: _Token) -> tuple[Any, str]:
        try:
            kid = self.checks.check_kid(token.header)
        except AuthenticationError:
            if "kid" not in token.header:
                return None, "no kid (key id) in the header, so no key to check the signature with"
            return None, f"kid {_shown(token.header['kid'])} (the key id): not a usable key id"
        issuer = token.claims.get("iss")
        source = self.middleware.key_sets.get(issuer) if isinstance(issuer, str) else None
        if source is None:
            return None, f"kid {_shown(kid)}: no trusted issuer to look the key up in"
        try:
            return await source.get_signing_key(kid), f"kid {_shown(kid)} (the key id): in the key set"
        except SigningKeysUnavailableError:
            return None, f"kid {_shown(kid)}: {self.key_set_failure(source)}"
        except AuthenticationError as exc:
            return None, f"kid {_shown(kid)} (the key id): {exc.reason}"

    def key_set_failure(self, source: object) -> str:
        if isinstance(source, JWKSCache) and source.last_failure is not None:
            return fetch_failure(source.last_failure, source.url)
        return "the signing keys could not be fetched"


# Each check's words: what the token says and what the settings allow. Whether it passes is
# not decided here: that is the outcome of the worker's own check (`ClaimChecks.outcomes`).
Words = Callable[[_Explainer, _Token, AuthenticationError | None], str]

_MEANINGS: Final = {"exp": "expiry time", "nbf": "not valid before", "iat": "issued at"}


def _algorithm(explainer: _Explainer, token: _Token, refusal: AuthenticationError | None) -> str:
    alg, allowed = token.header.get("alg"), explainer.settings.algorithms
    if not isinstance(alg, str):
        return "no alg (the signing algorithm) in the header"
    if refusal is not None and not isinstance(refusal, DisallowedAlgorithmError):
        return f"alg (the signing algorithm) {_shown(alg)}: {refusal.reason}"
    return f"alg (the signing algorithm) {_shown(alg)}; allowed: {', '.join(allowed)}"


def _issuer(explainer: _Explainer, token: _Token, refusal: AuthenticationError | None) -> str:
    issuer = token.claims.get("iss")
    trusted = ", ".join(repr(t.issuer) for t in explainer.settings.trusted_issuers)
    if issuer is None:
        return f"no iss (who issued it) claim; trusted: {trusted}"
    return f"iss (who issued it) {_shown(issuer)}; trusted: {trusted}"


def _times(explainer: _Explainer, token: _Token, refusal: AuthenticationError | None) -> str:
    now = explainer.now()
    if refusal is None:
        return f"expires in {duration(token.claims['exp'] - now)}"
    if isinstance(refusal, ExpiredTokenError):
        return f"expired {duration(now - token.claims['exp'])} ago"
    name = refusal.reason.split()[0]  # the claim the check names: exp, nbf or iat
    if isinstance(refusal, ImmatureTokenError):
        return f"{name} ({_MEANINGS[name]}) lies {duration(token.claims[name] - now)} ahead: is a clock wrong?"
    if name == "exp":
        return "no exp (expiry time) claim, or it is not a number"
    return f"{name} ({_MEANINGS[name]}) is not a number"


def _audience(explainer: _Explainer, token: _Token, refusal: AuthenticationError | None) -> str:
    audience, this_api = token.claims.get("aud"), ", ".join(explainer.settings.audience)
    if audience is None:
        return f"no aud (the API it is for) claim; this API: {this_api}"
    return f"aud (the API it is for) {_shown(audience)}; this API: {this_api}"


def _subject(explainer: _Explainer, token: _Token, refusal: AuthenticationError | None) -> str:
    subject = token.claims.get("sub")
    return (
        "no sub (who the token is about) claim"
        if subject is None
        else f"sub (who the token is about) {_shown(subject)}"
    )


def _reason(explainer: _Explainer, token: _Token, refusal: AuthenticationError | None) -> str:
    return "met" if refusal is None else refusal.reason


_WORDS: Final[dict[str, Words]] = {
    "algorithm": _algorithm,
    "issuer": _issuer,
    "times": _times,
    "audience": _audience,
    "subject": _subject,
    "delegation": _reason,
    "validity rules": _reason,
}


def _binding(explainer: _Explainer, token: _Token) -> tuple[bool | None, str]:
    """The `cnf` table's own verdict on the token presented as a Bearer token with no certificate."""
    if "cnf" not in token.claims:
        return True, "a bearer token: not bound to a client key or certificate (no cnf claim)"
    confirmation = token.claims["cnf"]
    try:
        check_confirmation(token.claims, Evidence(None, None), {"mtls": explainer.settings.mtls})
    except CertificateBindingError as refusal:
        if refusal.reason != BINDINGS_BY_LABEL["mtls"].absent:
            return False, refusal.reason
        # What only the client's connection can show: not for this command to judge.
        return None, "bound to a client certificate (cnf x5t#S256): it passes only over that client's mTLS connection"
    except AuthenticationError as refusal:
        if isinstance(confirmation, dict) and "jkt" in confirmation:
            return False, "bound to the client's key (cnf jkt): send it with the DPoP scheme and a proof, not as Bearer"
        if isinstance(confirmation, dict) and confirmation and confirmation.keys() <= {row.member for row in BINDINGS}:
            return False, refusal.reason
        return False, f"bound to something this API cannot check (cnf {_shown(confirmation)})"
    return True, f"bound to {proved(token.claims)}"


_MARKS: Final = {True: "PASS", False: "FAIL", None: "NOTE"}
_STRUCTURE: Final = "a JWT: three base64url parts (header.payload.signature), header and payload strict JSON"
# Checks shown only when they fail, or when there is something for them to check.
_SHOWN_WHEN_FAILING: Final[dict[str, Callable[[_Explainer, _Token], bool]]] = {
    "delegation": lambda explainer, token: "act" in token.claims,
    "validity rules": lambda explainer, token: bool(
        explainer.settings.token_profile
        or explainer.settings.required_claims
        or explainer.settings.allowed_clients
        or explainer.settings.max_token_age
    ),
}


def _decode(text: str, out: TextIO) -> _Token | None:
    try:
        header, payload, signature, signing_input = parse_compact(text)
        claims = json_object(payload, "payload")
    except AuthenticationError as exc:
        print(f"  FAIL  structure: not a JWT (header.payload.signature, each base64url): {exc.reason}", file=out)
        return None
    print(f"header: {json.dumps(header, sort_keys=True)}", file=out)
    print(f"claims: {json.dumps(claims, sort_keys=True)}", file=out)
    return _Token(text, header, claims, signing_input, signature)


def _refusal(exc: AuthenticationError, explainer: _Explainer) -> str:
    """`exc` as one line: what was wrong, then the status a client sees; the detail only when it
    says more than the description."""
    said = f"{exc.description} ({exc.status_code} {exc.error})"
    if isinstance(exc, SigningKeysUnavailableError):
        failures = [explainer.key_set_failure(source) for source in explainer.middleware.key_sets.values()]
        return f"{said}: {'; '.join(dict.fromkeys(failures))}"
    if exc.reason.lower() in exc.description.lower():
        return said
    return f"{said}: {exc.reason}"


async def _answer(middleware: Auth0Middleware, path: str, token: str) -> tuple[int, dict[str, Any]]:
    """What the middleware answers GET `path` with `token`: status and JSON body."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"auth0-asgi-explain"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 0),
        "server": ("auth0-asgi-explain", 443),
    }
    await middleware(scope, receive, send)
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    status = next(message["status"] for message in sent if message["type"] == "http.response.start")
    return status, (json.loads(body) if status != 200 and body else {})


async def _path_verdicts(explainer: _Explainer, text: str) -> list[str]:
    """The refusals of requests under each path whose rules differ, as the real middleware answers."""
    settings = explainer.settings
    paths = dict.fromkeys(["/", *settings.step_up, *settings.anonymous_prefixes])
    refused = []
    for path in paths:
        status, body = await _answer(explainer.middleware, path, text)
        if status != 200:
            refused.append(f"under {path}: {body.get('detail')} ({status} {body.get('error')})")
    return refused


async def explain(text: str, source: TokenSource, out: TextIO, now: Callable[[], float] = time.time) -> int:
    """Print the checks and the verdict; 0 when a worker would accept the token, 1 when not."""
    explainer = _Explainer(source, now)
    settings = source.settings
    try:
        print(f"checking against {source.described}", file=out)
        token = _decode(text, out)
        if token is not None:
            print(f"  PASS  structure: {_STRUCTURE}", file=out)
            for name, refusal in explainer.checks.outcomes(token.header, token.claims):
                if name in _SHOWN_WHEN_FAILING and refusal is None and not _SHOWN_WHEN_FAILING[name](explainer, token):
                    continue
                print(f"  {_MARKS[refusal is None]}  {name}: {_WORDS[name](explainer, token, refusal)}", file=out)
            ok, detail = _binding(explainer, token)
            print(f"  {_MARKS[ok]}  binding: {detail}", file=out)
            for prefix, requirement in settings.step_up.items():
                try:
                    requirement.enforce(token.claims)
                    ok, detail = True, "met"
                except AuthenticationError as exc:
                    ok, detail = False, exc.reason
                print(f"  {_MARKS[ok]}  step-up under {prefix}: {requirement.describe()}: {detail}", file=out)
            subject = token.claims.get("sub")
            if isinstance(subject, str) and subject.startswith("anon@"):
                allowed = ", ".join(settings.anonymous_prefixes) or "nowhere (AUTH0_ANONYMOUS_PREFIXES is not set)"
                print(
                    f"  NOTE  kind: an anonymous session's token (nobody signed in); accepted under {allowed}", file=out
                )
            key, why = await explainer.key_for(token)
            trusted = token.claims.get("iss") in explainer.middleware.key_sets
            print(f"  {'PASS' if key is not None else 'FAIL' if trusted else 'SKIP'}  key: {why}", file=out)
            alg = token.header.get("alg")
            if key is not None and isinstance(alg, str) and alg in key.algorithms:
                valid = signature_check(alg)(token.signing_input, key.key, token.signature)
                detail = (
                    "matches the key"
                    if valid
                    else "does not match the key: the token was changed, or signed by another"
                )
                print(f"  {'PASS' if valid else 'FAIL'}  signature: {detail}", file=out)
        try:
            await explainer.middleware.verifier.authenticate(text)
        except AuthenticationError as exc:
            print(f"verdict: refused: {_refusal(exc, explainer)}", file=out)
            cause = diagnose(text, exc, settings)
            if cause is not None:
                print(f"likely cause ({cause.code}): {cause.message}", file=out)
            return 1
        refused = await _path_verdicts(explainer, text)
        if refused:
            print(f"verdict: refused {'; '.join(refused)}", file=out)
            return 1
        print("verdict: accepted", file=out)
        return 0
    finally:
        await explainer.middleware.aclose()
