"""``auth0-asgi`` (and ``python -m auth0_asgi``): commands for people debugging tokens.

- ``auth0-asgi explain [TOKEN]``: decode a token without trusting it, then check it against the
  configured tenant (AUTH0_* from the environment and ``.env``), or with none configured the
  offline demo's issuer, one check at a time, and give the verdict a worker would give. Exit
  status 0 when it would be accepted, 1 when refused, 2 for bad usage or settings. The token is
  read from stdin when not given (or ``-``), so it need not enter the shell's history. It is
  sent nowhere; only the key sets are fetched.
- ``auth0-asgi token [--scope S] [--claims JSON]``: a token from the offline demo's local issuer
  (the key file the demo signs with), for ``curl -H "Authorization: Bearer $(auth0-asgi token)"``.
- ``auth0-asgi check``: read the configuration, fetch each key set once, and report what a worker
  would do: issuers, algorithms, the keys found and their kids, or why there are none. Exit
  status 1 when a key set yields no usable key.
- ``auth0-asgi check --resource URL [--token T] [--tool NAME]``: run the checks an MCP client
  makes of a running protected resource (RFC 9728 metadata, challenges, bad tokens refused, a
  good one accepted) and print pass/fail lines. Exit status 1 when one fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, Final, TextIO

import anyio
import httpx

from auth0_asgi._keys.fetch import DEFAULT_MAX_BODY_BYTES, fetch_document
from auth0_asgi._tokens.jwk import unusable_keys
from auth0_asgi._version import __version__
from auth0_asgi.errors import ConfigurationError, JWKSFetchError
from auth0_asgi.jwks import JWKSCache
from auth0_asgi.middleware import Auth0Middleware
from auth0_asgi.settings import read_variables

from .doctor import check_resource
from .explain import accepting_app, explain, plain_token
from .plain import fetch_failure
from .source import TokenSource, demo_url, token_source

__all__ = ["main", "main_for_console"]

_FROM_STDIN: Final = "-"
#: The quickstart's client: `auth0-asgi token` mints for it unless told otherwise.
_DEMO_SUBJECT: Final = "demo-client@clients"
_DESCRIPTION: Final = (
    "Commands for people debugging Auth0 access tokens: explain why a token is accepted or refused, "
    "check the key sets a worker would trust, mint a token from the offline demo."
)


async def _why_no_keys(source: JWKSCache, settings_algorithms: Sequence[str], out: TextIO) -> None:
    """Each key of the set, and why it cannot be used (the set is fetched once more to read it)."""
    async with httpx.AsyncClient() as client:
        try:
            document = await fetch_document(client, source.url, time_limit=5, max_body_bytes=DEFAULT_MAX_BODY_BYTES)
            reasons = unusable_keys(document.body, settings_algorithms)
        except JWKSFetchError as exc:
            print(f"        {fetch_failure(exc, source.url)}", file=out)
            return
    for reason in reasons or ["the key set's keys array is empty"]:
        print(f"        {reason}", file=out)


async def _check(source: TokenSource, out: TextIO) -> int:
    settings = source.settings
    middleware = Auth0Middleware(accepting_app, settings=settings, keys=source.keys)
    failed = 0
    try:
        print(f"checking {source.described}", file=out)
        print(f"audience: {', '.join(settings.audience)}; algorithms: {', '.join(settings.algorithms)}", file=out)
        print(
            f"DPoP: {settings.dpop}; replay store: {'redis' if settings.dpop_replay_url else 'per process'}", file=out
        )
        for issuer, key_set in middleware.key_sets.items():
            print(f"issuer {issuer}", file=out)
            if not isinstance(key_set, JWKSCache):  # the offline demo's own keys: nothing to fetch
                kid = getattr(key_set, "kid", "")
                print(f"  the demo's signing key, read from its key file: kid {kid!r}", file=out)
                continue
            await key_set.refresh()
            keys = key_set.keys
            print(f"  key set {key_set.url}: {len(keys)} usable key(s)", file=out)
            for kid, key in sorted(keys.items()):
                print(f"    kid {kid!r}: {', '.join(sorted(key.algorithms))}", file=out)
            if not keys:
                failed = 1
                failure = key_set.last_failure
                if failure is not None and failure.code != "no_usable_keys":
                    print(f"  FAIL  {fetch_failure(failure, key_set.url)}", file=out)
                else:
                    print("  FAIL  no usable key, so every token of this issuer would be refused:", file=out)
                    await _why_no_keys(key_set, settings.algorithms, out)
    finally:
        await middleware.aclose()
    return failed


def _claims(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        claims = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(
            f'--claims {text[:60]!r}: not JSON ({exc}); give an object, such as \'{{"org_id": "acme"}}\''
        ) from None
    if not isinstance(claims, dict):
        raise ConfigurationError(f'--claims {text[:60]!r}: give a JSON object, such as \'{{"org_id": "acme"}}\'')
    return claims


def _running_demo_kids(url: str) -> list[str] | None:
    """The kids a demo running at `url` publishes, or None when none answers there."""
    try:
        response = httpx.get(f"{url.rstrip('/')}/.well-known/jwks.json", timeout=1.0)
        keys = response.json().get("keys", []) if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    if not isinstance(keys, list):
        return None
    return [str(key.get("kid")) for key in keys if isinstance(key, dict)]


def _running_demo_issuer(url: str) -> str | None:
    """The issuer a demo running at `url` signs as (its discovery document's), or None."""
    try:
        response = httpx.get(f"{url.rstrip('/')}/.well-known/openid-configuration", timeout=1.0)
        issuer = response.json().get("issuer") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return issuer if isinstance(issuer, str) and issuer.startswith(("http://", "https://")) else None


def _token(scope: str, claims_text: str | None, subject: str, running_demo: str | None, out: TextIO) -> int:
    from auth0_asgi.testing import LocalIssuer, demo_issuer_url, demo_key_path, load_or_create_private_key

    claims = _claims(claims_text)
    path = demo_key_path()
    # A demo running where it was not told it runs (another port) still signs as its own issuer:
    # its discovery document says which, so the token matches it without AUTH0_DEMO_URL.
    issuer_url = (
        (_running_demo_issuer(running_demo) or demo_issuer_url({"AUTH0_DEMO_URL": running_demo}))
        if running_demo
        else demo_url()
    )
    issuer = LocalIssuer(issuer=issuer_url, private_key=load_or_create_private_key(path))
    print(issuer.token(scope=scope, subject=subject, **claims), file=out)
    # To stderr: `$(auth0-asgi token)` takes the token alone.
    print(f"auth0-asgi: signed with the offline demo's key {issuer.kid!r} from {path}", file=sys.stderr)
    if read_variables().get("AUTH0_DOMAIN", "").strip():
        print(
            "auth0-asgi: note: AUTH0_DOMAIN is set, but this token is the offline demo's: your tenant's API will "
            "refuse it. For a tenant token use your API's Test tab in the Auth0 dashboard or its /oauth/token",
            file=sys.stderr,
        )
    at = (running_demo or issuer_url).rstrip("/")  # where it runs: its issuer may name another port
    published = _running_demo_kids(at)
    if published is not None and issuer.kid not in published:
        print(
            f"auth0-asgi: warning: the demo at {at} publishes other keys ({', '.join(map(repr, published))}), "
            "so it will refuse this token: it reads another key file (AUTH0_DEMO_KEY_FILE, XDG_CACHE_HOME) "
            "or uses your tenant",
            file=sys.stderr,
        )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="auth0-asgi", description=_DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"auth0-asgi {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_help = "with no tenant configured: the URL of a running offline demo, whose key set to use"
    explain_parser = commands.add_parser("explain", help="check a token as a worker would, and say why it is refused")
    explain_parser.add_argument("token", nargs="?", default="-", help="the access token; '-' or nothing: read stdin")
    explain_parser.add_argument("--demo", metavar="URL", help=demo_help)
    token = commands.add_parser("token", help="mint a token from the offline demo's local issuer")
    token.add_argument("--scope", default="read:messages", help="space-separated scopes (default read:messages)")
    token.add_argument("--claims", help="extra claims as a JSON object")
    token.add_argument("--subject", default=_DEMO_SUBJECT, help=f"the sub claim (default {_DEMO_SUBJECT})")
    token.add_argument(
        "--demo",
        metavar="URL",
        help="the demo the token is for: its iss, and whose keys to compare (default AUTH0_DEMO_URL, else "
        "http://127.0.0.1:8000)",
    )
    check = commands.add_parser("check", help="fetch each key set once and report what a worker would trust")
    check.add_argument("--demo", metavar="URL", help=demo_help)
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
            return _token(arguments.scope, arguments.claims, arguments.subject, arguments.demo, stream)
        if arguments.command == "check" and arguments.resource:
            given = sys.stdin.read().strip() if arguments.token == _FROM_STDIN else arguments.token
            return anyio.run(lambda: check_resource(arguments.resource, stream, token=given, tool=arguments.tool))
        if arguments.command == "check":
            return anyio.run(_check, token_source(arguments.demo), stream)
        text, note = plain_token(sys.stdin.read() if arguments.token == _FROM_STDIN else arguments.token)
        source = token_source(arguments.demo)
        if note is not None:
            print(note, file=stream)
        return anyio.run(explain, text, source, stream)
    except (ConfigurationError, ValueError) as exc:
        print(f"auth0-asgi: configuration error: {exc}", file=sys.stderr)
        return 2


def main_for_console() -> None:
    """The console script's entry point: `main`, its status as the exit status."""
    sys.exit(main())
