"""The app's lifespan, wrapped: it owns the refresh-ahead task and the middleware's start and close."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auth0_asgi._keys.refresh_ahead import keep_fresh
from auth0_asgi.jwks import JWKSCache

__all__ = ["run_lifespan"]


async def run_lifespan(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    caches: Sequence[JWKSCache],
    on_startup: Callable[[], Awaitable[None]],
    on_shutdown: Callable[[], Awaitable[None]],
) -> None:
    """Run `app`'s lifespan; once it has started, await `on_startup` (pre-warming, say), then
    keep `caches` fresh in the background until shutdown, when `on_shutdown` runs."""
    # The refresh-ahead task starts once the app has started (after pre-warming, if asked), and
    # stops before the key clients are closed.
    refreshing = anyio.CancelScope()
    stopped = anyio.Event()

    async def refresh_ahead() -> None:
        try:
            with refreshing:
                await keep_fresh(caches)
        finally:
            stopped.set()

    async with anyio.create_task_group() as task_group:
        started = False

        async def send_in_lifespan(message: Message) -> None:
            nonlocal started
            if message["type"] == "lifespan.startup.complete":
                await on_startup()
                task_group.start_soon(refresh_ahead)
                started = True
            elif message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                refreshing.cancel()
                if started:
                    # Wait for the task to end before saying so: once told, a server (uvicorn) may
                    # stop its loop, cancelling whatever is left, which it then logs as an error.
                    await stopped.wait()
                await on_shutdown()
            await send(message)

        try:
            await app(scope, receive, send_in_lifespan)
        finally:
            refreshing.cancel()  # an app that leaves the lifespan early ends it too
