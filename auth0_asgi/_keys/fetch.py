"""One capped, deadline-bound GET of a JSON document from a configured URL.

Key sets are fetched this way (and OIDC discovery documents will be): never a redirect, never
more than `max_body_bytes`, never longer than `time_limit` seconds in all. Every failure is a
JWKSFetchError chained from its cause; the caller decides what a failure means.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncGenerator
from typing import Final, NamedTuple, cast

import anyio
import httpx

from auth0_asgi._version import __version__
from auth0_asgi.errors import JWKSFetchError

__all__ = ["DEFAULT_MAX_BODY_BYTES", "USER_AGENT", "Document", "fetch_document", "max_age"]

USER_AGENT: Final = f"auth0-asgi/{__version__}"
DEFAULT_MAX_BODY_BYTES: Final = 256 * 1024


class Document(NamedTuple):
    """A fetched document: its body, and the `max-age` its Cache-Control gave (None if none)."""

    body: bytes
    max_age: float | None


# RFC 9111 §5.2.2.1 max-age, and §5.2.2.4/5 no-cache and no-store, which mean "do not reuse".
_MAX_AGE: Final = re.compile(r'(?:^|,)\s*max-age\s*=\s*"?(\d{1,10})"?\s*(?:,|$)', re.IGNORECASE)
_NO_REUSE: Final = re.compile(r"(?:^|,)\s*no-(?:cache|store)\s*(?:,|$)", re.IGNORECASE)


def max_age(cache_control: str) -> float | None:
    """The freshness lifetime a Cache-Control value grants, in seconds; None when it says none."""
    if _NO_REUSE.search(cache_control):
        return 0.0
    found = _MAX_AGE.search(cache_control)
    return float(found.group(1)) if found else None


async def fetch_document(client: httpx.AsyncClient, url: str, *, time_limit: float, max_body_bytes: int) -> Document:
    """The body of a 200 answer to GET `url`, at most `max_body_bytes` long, with its max-age.

    Raises JWKSFetchError for any other status, a redirect, a timeout (`time_limit` seconds in
    all), a transport error or a body over the cap.
    """
    try:
        with anyio.fail_after(time_limit):
            async with client.stream(
                "GET",
                url,
                # identity: the size cap then applies to the bytes we parse, read raw.
                headers={"User-Agent": USER_AGENT, "Accept": "application/json", "Accept-Encoding": "identity"},
                follow_redirects=False,  # the configured URL is the only trusted place
                timeout=time_limit,  # httpx's per-phase limits, inside the total deadline
            ) as response:
                if response.status_code != 200:
                    raise JWKSFetchError(
                        f"HTTP {response.status_code}", code="http_status", status_code=response.status_code
                    )
                body = await _read_capped(response, max_body_bytes)
                return Document(body, max_age(response.headers.get("cache-control", "")))
    except TimeoutError as exc:
        raise JWKSFetchError(f"timed out after {time_limit:g}s", code="timeout") from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise JWKSFetchError(f"{type(exc).__name__}", code="transport_error") from exc


async def _read_capped(response: httpx.Response, max_body_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body_bytes:
        raise JWKSFetchError(f"body of {declared} bytes is over the {max_body_bytes}-byte cap", code="too_large")
    if response.is_stream_consumed:
        body = response.content  # a transport that hands over a response already read
    else:
        body = await _read_stream(response, max_body_bytes)
    if len(body) > max_body_bytes:
        raise JWKSFetchError(f"body is over the {max_body_bytes}-byte cap", code="too_large")
    return body


async def _read_stream(response: httpx.Response, max_body_bytes: int) -> bytes:
    chunks = bytearray()
    raw = cast(AsyncGenerator[bytes, None], response.aiter_raw())  # typed as a plain iterator
    # aclosing: leaving the loop early must finalise the stream now (trio insists).
    async with contextlib.aclosing(raw) as body:
        async for chunk in body:
            chunks += chunk
            if len(chunks) > max_body_bytes:
                break
    return bytes(chunks)
