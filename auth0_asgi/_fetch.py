"""One capped, deadline-bound GET of a JSON document from a configured URL.

Key sets are fetched this way (and OIDC discovery documents will be): never a redirect, never
more than `max_body_bytes`, never longer than `time_limit` seconds in all. Every failure is a
JWKSFetchError chained from its cause; the caller decides what a failure means.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Final, cast

import anyio
import httpx

from ._version import __version__
from .errors import JWKSFetchError

__all__ = ["DEFAULT_MAX_BODY_BYTES", "USER_AGENT", "fetch_document"]

USER_AGENT: Final = f"auth0-asgi/{__version__}"
DEFAULT_MAX_BODY_BYTES: Final = 256 * 1024


async def fetch_document(client: httpx.AsyncClient, url: str, *, time_limit: float, max_body_bytes: int) -> bytes:
    """The body of a 200 answer to GET `url`, at most `max_body_bytes` long.

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
                    raise JWKSFetchError(f"HTTP {response.status_code}")
                return await _read_capped(response, max_body_bytes)
    except TimeoutError as exc:
        raise JWKSFetchError(f"timed out after {time_limit:g}s") from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise JWKSFetchError(f"{type(exc).__name__}") from exc


async def _read_capped(response: httpx.Response, max_body_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body_bytes:
        raise JWKSFetchError(f"body of {declared} bytes is over the {max_body_bytes}-byte cap")
    if response.is_stream_consumed:
        body = response.content  # a transport that hands over a response already read
    else:
        body = await _read_stream(response, max_body_bytes)
    if len(body) > max_body_bytes:
        raise JWKSFetchError(f"body is over the {max_body_bytes}-byte cap")
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
