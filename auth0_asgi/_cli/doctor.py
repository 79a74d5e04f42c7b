"""``auth0-asgi check --resource URL``: the checks an MCP client makes of a protected resource.

It talks to the running server only as a client would (and to the authorization servers the
metadata names), and prints one PASS, FAIL or SKIP line per check, in words a newcomer can act
on. Without a token, the checks that need one are skipped; the token is sent only to the
resource, and never printed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TextIO

import httpx

from auth0_asgi._base64url import decode_lenient, encode
from auth0_asgi._tokens.diagnosis import loose_json
from auth0_asgi.resource import metadata_url

__all__ = ["check_resource"]

_PARAMETER: Final = re.compile(r'([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"')
# What an MCP client sends with a request: the SDK's streamable HTTP transport accepts either.
_MCP_HEADERS: Final = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2026-07-28",
    "Mcp-Method": "ping",
}
_PING: Final = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{}}'


def _challenges(response: httpx.Response) -> list[dict[str, str]]:
    """Each WWW-Authenticate field's parameters, with its scheme under ``scheme``."""
    found = []
    for value in response.headers.get_list("www-authenticate"):
        scheme, _, rest = value.partition(" ")
        found.append({"scheme": scheme, **{name: v.replace('\\"', '"') for name, v in _PARAMETER.findall(rest)}})
    return found


@dataclass
class _Report:
    out: TextIO
    failed: int = 0
    notes: list[str] = field(default_factory=list)

    def line(self, ok: bool | None, what: str, detail: str) -> None:
        mark = "SKIP" if ok is None else "PASS" if ok else "FAIL"
        self.failed += ok is False
        print(f"  {mark}  {what}: {detail}", file=self.out)


def _refused(response: httpx.Response, status: int, error: str | None) -> tuple[bool, str]:
    challenge = next(iter(_challenges(response)), {})
    ok = response.status_code == status and challenge.get("error") == error
    return ok, f"got {response.status_code} {challenge.get('error', '(no error)')}, want {status} {error}"


def _segment(token: str | None, index: int) -> dict[str, Any]:
    """One JSON segment of `token`, read without trusting it (as diagnoses read it); empty when none."""
    segments = (token or "").split(".")
    found = loose_json(segments[index]) if len(segments) > index else None
    return found or {}


def _forged(token: str | None, header: Mapping[str, Any], claims: Mapping[str, Any], signature: str) -> str:
    """`token`'s payload with `claims` over it, under `header` and `signature`: a token to be refused."""
    payload = {**_segment(token, 1), **claims}
    return f"{encode(json.dumps(dict(header)).encode())}.{encode(json.dumps(payload).encode())}.{signature}"


async def _metadata(client: httpx.AsyncClient, report: _Report, resource: str, named: str | None) -> dict[str, Any]:
    url = named or metadata_url(resource)
    try:
        response = await client.get(url)
        document = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as exc:
        report.line(False, "metadata", f"{url} could not be read: {type(exc).__name__}")
        return {}
    if not isinstance(document, dict):
        report.line(False, "metadata", f"{url} answered {response.status_code}, not a JSON document")
        return {}
    same = document.get("resource") == resource
    report.line(same, "metadata", f"{url}: resource {document.get('resource')!r} (must be exactly {resource!r})")
    return document


async def _authorization_servers(client: httpx.AsyncClient, report: _Report, document: Mapping[str, Any]) -> list[str]:
    servers = document.get("authorization_servers")
    if not isinstance(servers, list) or not servers or not all(isinstance(s, str) for s in servers):
        report.line(False, "authorization servers", "the metadata names none")
        return []
    for issuer in servers:
        discovered = None
        for suffix in (".well-known/openid-configuration", ".well-known/oauth-authorization-server"):
            try:
                response = await client.get(issuer.rstrip("/") + "/" + suffix)
                discovered = response.json().get("issuer") if response.status_code == 200 else None
            except (httpx.HTTPError, ValueError, AttributeError):
                discovered = None
            if discovered is not None:
                break
        report.line(
            discovered == issuer,
            "authorization server",
            f"{issuer!r} says its issuer is {discovered!r} (clients compare them byte for byte, trailing slash too)",
        )
    return servers


async def check_resource(
    resource: str, out: TextIO, *, token: str | None = None, tool: str | None = None, verify: bool = True
) -> int:
    """Run the checks against the resource at `resource`; 0 when none failed, else 1.

    - `token`: a valid access token for the resource, for the checks that need one.
    - `tool`: an MCP tool the token may not call, to see the 403 and its scope hint.
    """
    report = _Report(out)
    async with httpx.AsyncClient(timeout=10, verify=verify, follow_redirects=False) as client:
        try:
            bare = await client.post(resource, content=_PING, headers=_MCP_HEADERS)
        except httpx.HTTPError as exc:
            report.line(False, "reachable", f"{resource}: {type(exc).__name__}")
            return 1
        challenges = _challenges(bare)
        report.line(
            bare.status_code == 401 and bool(challenges) and all("error" not in c for c in challenges),
            "401 without a token",
            f"got {bare.status_code} with {len(challenges)} challenge(s) (want 401, a challenge, no error attribute)",
        )
        named = next((c["resource_metadata"] for c in challenges if "resource_metadata" in c), None)
        report.line(named is not None, "resource_metadata in the challenge", named or "missing: set AUTH0_RESOURCE_URL")
        document = await _metadata(client, report, resource, named)
        servers = await _authorization_servers(client, report, document) if document else []

        async def call(authorization: str | None, url: str = resource, **extra: str) -> httpx.Response:
            headers = {**_MCP_HEADERS, **extra}
            if authorization is not None:
                headers["Authorization"] = authorization
            return await client.post(url, content=_PING, headers=headers)

        if tool is not None:  # a call that needs a scope: its 401 must name it
            challenges = _challenges(await call(None, **{"Mcp-Method": "tools/call", "Mcp-Name": tool}))
        scopes = next((c["scope"] for c in challenges if "scope" in c), None)
        if scopes is None and (tool is None or not document.get("scopes_supported")):
            report.line(None, "scope in the challenge", "this request needs none; give --tool NAME to see one named")
        else:
            report.line(scopes is not None, "scope in the challenge", scopes or "missing: clients cannot ask for it")

        ok, detail = _refused(await call("Bearer not-a-token"), 401, "invalid_token")
        report.line(ok, "a malformed token is refused", detail)
        none_token = _forged(token, {"alg": "none", "typ": "JWT"}, {"aud": resource}, "")
        ok, detail = _refused(await call(f"Bearer {none_token}"), 401, "invalid_token")
        report.line(ok, "an unsigned (alg=none) token is refused", detail)
        if token is None:
            for what in ("a token for another audience is refused", "a token in the query string is refused"):
                report.line(None, what, "give --token")
            report.line(None, "a valid token is accepted", "give --token")
        else:
            await _with_token(report, call, token, resource, servers, tool)
    print("all checks passed" if not report.failed else f"{report.failed} check(s) failed", file=out)
    return 1 if report.failed else 0


async def _with_token(
    report: _Report, call: Any, token: str, resource: str, servers: list[str], tool: str | None
) -> None:
    head, _, rest = token.partition(".")
    try:
        claims = json.loads(decode_lenient(rest.split(".")[0]))
    except ValueError:
        claims = {}
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    report.line(issuer in servers, "the token's issuer is listed", f"iss {issuer!r}; listed: {servers}")
    other = _forged(token, json.loads(decode_lenient(head)), {"aud": "https://other.invalid"}, "x")
    ok, detail = _refused(await call(f"Bearer {other}"), 401, "invalid_token")
    report.line(ok, "a token for another audience is refused", detail)
    separator = "&" if "?" in resource else "?"
    in_query = await call(None, url=f"{resource}{separator}access_token={token}")
    report.line(in_query.status_code == 401, "a token in the query string is refused", f"got {in_query.status_code}")
    accepted = await call(f"Bearer {token}")
    passed = accepted.status_code not in (401, 403) and not _challenges(accepted)
    report.line(passed, "a valid token is accepted", f"got {accepted.status_code}")
    if tool is None:
        report.line(None, "403 names the scope a tool needs", "give --tool NAME (a tool the token may not call)")
        return
    forbidden = await call(f"Bearer {token}", **{"Mcp-Method": "tools/call", "Mcp-Name": tool})
    challenge = next(iter(_challenges(forbidden)), {})
    hinted = forbidden.status_code == 403 and challenge.get("error") == "insufficient_scope" and "scope" in challenge
    report.line(
        hinted, "403 names the scope a tool needs", f"got {forbidden.status_code}, scope {challenge.get('scope')!r}"
    )
