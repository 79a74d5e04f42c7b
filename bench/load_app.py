"""The demo app as bench/load.py serves it: the tenant from AUTH0_*, key-set timings shortened.

A 0.5 s TTL and fetch timeout make refreshes frequent, so they keep meeting the flapping
key server during a short run.
"""

from __future__ import annotations

from auth0_asgi import Auth0Settings
from demo_app import create_app

settings = Auth0Settings.from_env(jwks_cache_ttl=0.5, jwks_fetch_timeout=0.5, jwks_retry_interval=0.2)
app = create_app(settings)
