"""``auth0-asgi`` (and ``python -m auth0_asgi``): commands for people debugging tokens.

- ``auth0-asgi explain [TOKEN]``: decode a token without trusting it, then check it against the
  configured settings (AUTH0_* from the environment and ``.env``) one check at a time, the way a
  worker would, and say why it would be refused. Exit status 0 when it would be accepted, 1 when
  refused, 2 for a configuration problem. The token is read from stdin when not given (or ``-``),
  so it need not enter the shell's history. It is sent nowhere; only the configured key sets are
  fetched.
- ``auth0-asgi token [--scope S] [--claims JSON]``: a token from the offline demo's local issuer
  (the same key the demo uses), for ``curl -H "Authorization: Bearer $(auth0-asgi token)"``.
- ``auth0-asgi check``: read the configuration, fetch each key set once, and report what a worker
  would do: issuers, algorithms, the keys found and their kids. Exit status 1 when a key set
  yields no usable key.
- ``auth0-asgi check --resource URL [--token T] [--tool NAME]``: run the checks an MCP client
  makes of a running protected resource (RFC 9728 metadata, challenges, bad tokens refused, a
  good one accepted) and print pass/fail lines. Exit status 1 when one fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import anyio
from jwt.algorithms import get_default_algorithms

from ._diagnostics import diagnose
from ._doctor import check_resource
from ._jws import is_safe_number, json_object, parse_compact
from .errors import AuthenticationError, ConfigurationError
from .jwks import JWKSCache
from .middleware import Auth0Middleware
from .settings import Auth0Settings

__all__ = ["main", "main_for_console"]

_FROM_STDIN = "-"


async def _no_app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover - never called
    raise RuntimeError("the CLI's middleware serves no requests")


@dataclass
class _Token:
    text: str
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


Check = Callable[["_Explainer", _Token], tuple[bool | None, str]]


class _Explainer:
    def __init__(self, settings: Auth0Settings, out: TextIO) -> None:
        self.settings = settings
        self.out = out
        self.middleware = Auth0Middleware(_no_app, settings=settings)

    async def key_for(self, token: _Token) -> tuple[Any, str]:
        source = self.middleware.key_sets.get(token.claims.get("iss"))  # type: ignore[arg-type]
        if source is None:
            return None, "no trusted issuer to look the key up in"
        try:
            return await source.get_signing_key(str(token.header.get("kid"))), ""
        except AuthenticationError as exc:
            return None, exc.reason


def _structure(explainer: _Explainer, token: _Token) -> tuple[bool | None, str]:
    return True, "a compact JWS: three canonical base64url segments, strict JSON header and payload"


def _algorithm(explainer: _Explainer, token: _Token) -> tuple[bool | None, str]:
    alg, allowed = token.header.get("alg"), explainer.settings.algorithms
    return alg in allowed, f"alg {alg!r}; allowed: {', '.join(allowed)}"


def _issuer(explainer: _Explainer, token: _Token) -> tuple[bool | None, str]:
    issuer = token.claims.get("iss")
    trusted = [t.issuer for t in explainer.settings.trusted_issuers]
    return issuer in trusted, f"iss {str(issuer)[:100]!r}; trusted: {', '.join(map(repr, trusted))}"


def _times(explainer: _Explainer, token: _Token) -> tuple[bool | None, str]:
    now, leeway = time.time(), explainer.settings.leeway
    exp = token.claims.get("exp")
    if not is_safe_number(exp):
        return False, "exp is missing or not a number"
    if exp <= now - leeway:
        return False, f"exp passed {now - exp:.0f}s ago"
    for name in ("nbf", "iat"):
        value = token.claims.get(name)
        if value is not None and (not is_safe_number(value) or value > now + leeway):
            return False, f"{name} is not a number, or lies {float(value) - now:.0f}s ahead"
    return True, f"expires in {exp - now:.0f}s"


def _audience(explainer: _Explainer, token: _Token) -> tuple[bool | None, str]:
    audience = token.claims.get("aud")
    granted = audience if isinstance(audience, list) else [audience]
    ok = any(item in explainer.settings.audience for item in granted)
    return ok, f"aud {json.dumps(audience)[:100]}; this API: {', '.join(explainer.settings.audience)}"


def _subject(explainer: _Explainer, token: _Token) -> tuple[bool | None, str]:
    subject = token.claims.get("sub")
    return isinstance(subject, str) and bool(subject), f"sub {str(subject)[:100]!r}"


def _bearer(explainer: _Explainer, token: _Token) -> tuple[bool | None, str]:
    if "cnf" in token.claims:
        return False, "bound to a key (cnf): send it with the DPoP scheme and a proof, not as Bearer"
    return True, "not bound to a key (no cnf)"


_CHECKS: Sequence[tuple[str, Check]] = (
    ("structure", _structure),
    ("algorithm", _algorithm),
    ("issuer", _issuer),
    ("times", _times),
    ("audience", _audience),
    ("subject", _subject),
    ("bearer", _bearer),
)


def _decode(text: str, out: TextIO) -> _Token | None:
    try:
        header, payload, signature, signing_input = parse_compact(text)
        claims = json_object(payload, "payload")
    except AuthenticationError as exc:
        print(f"  FAIL  structure: {exc.reason}", file=out)
        return None
    print(f"header: {json.dumps(header, sort_keys=True)}", file=out)
    print(f"claims: {json.dumps(claims, sort_keys=True)}", file=out)
    return _Token(text, header, claims, signing_input, signature)


async def _explain(text: str, settings: Auth0Settings, out: TextIO) -> int:
    explainer = _Explainer(settings, out)
    try:
        print(f"checking against {', '.join(t.issuer for t in settings.trusted_issuers)}", file=out)
        token = _decode(text, out)
        if token is not None:
            for name, check in _CHECKS:
                ok, detail = check(explainer, token)
                print(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}", file=out)
            for prefix, requirement in settings.step_up.items():
                try:
                    requirement.enforce(token.claims)
                    ok, detail = True, "met"
                except AuthenticationError as exc:
                    ok, detail = False, exc.reason
                mark = "PASS" if ok else "FAIL"
                print(f"  {mark}  step-up under {prefix}: {requirement.describe()}: {detail}", file=out)
            key, why = await explainer.key_for(token)
            trusted = token.claims.get("iss") in explainer.middleware.key_sets
            mark = "PASS" if key is not None else "FAIL" if trusted else "SKIP"
            print(f"  {mark}  key: kid {str(token.header.get('kid'))[:100]!r} {why}".rstrip(), file=out)
            if key is not None and token.header.get("alg") in key.algorithms:
                valid = get_default_algorithms()[token.header["alg"]].verify(
                    token.signing_input, key.key, token.signature
                )
                print(f"  {'PASS' if valid else 'FAIL'}  signature", file=out)
        try:
            await explainer.middleware.verifier.authenticate(text)
        except AuthenticationError as exc:
            print(f"verdict: refused, {exc.status_code} {exc.error}: {exc.description} ({exc.reason})", file=out)
            cause = diagnose(text, exc, settings)
            if cause is not None:
                print(f"likely cause ({cause.code}): {cause.message}", file=out)
            return 1
        print("verdict: accepted", file=out)
        return 0
    finally:
        await explainer.middleware.aclose()


async def _check(settings: Auth0Settings, out: TextIO) -> int:
    middleware = Auth0Middleware(_no_app, settings=settings)
    failed = 0
    try:
        print(f"audience: {', '.join(settings.audience)}; algorithms: {', '.join(settings.algorithms)}", file=out)
        print(
            f"DPoP: {settings.dpop}; replay store: {'redis' if settings.dpop_replay_url else 'per process'}", file=out
        )
        for issuer, source in middleware.key_sets.items():
            assert isinstance(source, JWKSCache)  # no keys= given: each issuer's key cache
            await source.refresh()
            keys = source.keys
            print(f"issuer {issuer}", file=out)
            print(f"  key set {source.url}: {len(keys)} usable key(s)", file=out)
            for kid, key in sorted(keys.items()):
                print(f"    kid {kid!r}: {', '.join(sorted(key.algorithms))}", file=out)
            if not keys:
                failed = 1
                print("  FAIL  no usable key: every token of this issuer would be refused", file=out)
    finally:
        await middleware.aclose()
    return failed


def _token(scope: str, claims_text: str | None, out: TextIO) -> int:
    from .testing import LocalIssuer, demo_key_path, load_or_create_private_key

    claims = json.loads(claims_text) if claims_text else {}
    if not isinstance(claims, dict):
        raise ConfigurationError("--claims: give a JSON object")
    issuer = LocalIssuer(private_key=load_or_create_private_key(demo_key_path()))
    print(issuer.token(scope=scope, **claims), file=out)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="auth0-asgi", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    explain = commands.add_parser("explain", help="check a token as a worker would, and say why it is refused")
    explain.add_argument("token", nargs="?", default="-", help="the access token; '-' or nothing: read stdin")
    token = commands.add_parser("token", help="mint a token from the offline demo's local issuer")
    token.add_argument("--scope", default="read:messages", help="space-separated scopes (default read:messages)")
    token.add_argument("--claims", help="extra claims as a JSON object")
    check = commands.add_parser("check", help="fetch each key set once and report what a worker would trust")
    check.add_argument("--resource", help="instead: check the running protected resource at this URL as a client would")
    check.add_argument("--token", help="with --resource: a valid access token for it ('-': read stdin)")
    check.add_argument("--tool", help="with --resource and --token: an MCP tool the token may not call")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command in `argv` (default the process arguments); returns the exit status."""
    arguments = _parser().parse_args(argv)
    stream = out or sys.stdout
    try:
        if arguments.command == "token":
            return _token(arguments.scope, arguments.claims, stream)
        if arguments.command == "check" and arguments.resource:
            given = sys.stdin.read().strip() if arguments.token == _FROM_STDIN else arguments.token
            return anyio.run(lambda: check_resource(arguments.resource, stream, token=given, tool=arguments.tool))
        settings = Auth0Settings.from_env()
        if arguments.command == "check":
            return anyio.run(_check, settings, stream)
        text = sys.stdin.read() if arguments.token == _FROM_STDIN else arguments.token
        return anyio.run(_explain, text.strip(), settings, stream)
    except (ConfigurationError, ValueError) as exc:
        print(f"auth0-asgi: configuration error: {exc}", file=sys.stderr)
        return 2


def main_for_console() -> None:
    """The console script's entry point: `main`, its status as the exit status."""
    sys.exit(main())
