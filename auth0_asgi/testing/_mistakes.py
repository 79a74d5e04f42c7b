"""The tokens newcomers send by mistake, so an app's tests (and ours) can show what each one gets.

Each is refused with the usual fixed answer; the server log names the cause (see the README's
"Why is my token refused?").
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

import jwt

from auth0_asgi._base64url import encode

__all__ = ["MistakenTokens"]

#: The variants `issuer_variant_token` makes of the issuer's `iss`.
ISSUER_VARIANTS = ("no-trailing-slash", "http", "uppercase", "region", "custom-domain")


class MistakenTokens:
    """Mixed into `LocalIssuer`: tokens shaped like the mistakes Auth0 users make."""

    issuer: str
    audience: str
    _now: Callable[[], float]

    def token(self, **claims: Any) -> str:  # pragma: no cover - LocalIssuer's own
        raise NotImplementedError

    def jwe_token(self) -> str:
        """An encrypted token (five segments, ``alg: dir``), as Auth0 issues with no audience."""
        header = {"alg": "dir", "enc": "A256GCM", "iss": self.issuer}
        parts = [
            json.dumps(header).encode(),
            b"",
            secrets.token_bytes(12),
            secrets.token_bytes(64),
            secrets.token_bytes(16),
        ]
        return ".".join(encode(part) for part in parts)

    def opaque_token(self) -> str:
        """An opaque access token (not a JWT), as Auth0 issues for its own /userinfo."""
        return secrets.token_urlsafe(24)

    def id_token(self, client_id: str = "local-client") -> str:
        """An ID token: signed by the tenant, but for the client (aud), with a nonce."""
        return self.token(aud=client_id, nonce=secrets.token_urlsafe(8), azp=client_id, gty=None, scope="")

    def issuer_variant_token(self, variant: str) -> str:
        """A token whose `iss` is this issuer's spelled another way (`ISSUER_VARIANTS`)."""
        host = self.issuer.split("://", 1)[-1].rstrip("/")
        tenant = host.split(".", 1)[0]
        issuers = {
            "no-trailing-slash": self.issuer.rstrip("/"),
            "http": "http://" + host + "/",
            "uppercase": "https://" + host.upper() + "/",
            "region": f"https://{tenant}.eu.auth0.com/",
            "custom-domain": "https://login.example-custom.test/",
        }
        if variant not in issuers:
            raise ValueError(f"variant={variant!r}: one of {', '.join(ISSUER_VARIANTS)}")
        return self.token(iss=issuers[variant])

    def hs256_token(self, secret: bytes = b"the-api-signing-secret-from-the-dashboard") -> str:
        """A token signed with HS256, as from an API set to HS256 in the Auth0 dashboard."""
        now = int(self._now())
        claims = {
            "iss": self.issuer,
            "sub": "local-client@clients",
            "aud": self.audience,
            "iat": now,
            "exp": now + 3600,
        }
        return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": "hs"})

    def clock_behind_token(self, seconds: int = 120) -> str:
        """A fresh token as a server whose clock is `seconds` behind sees it: `iat` and `nbf` ahead."""
        now = int(self._now())
        return self.token(iat=now + seconds, nbf=now + seconds)

    def clock_ahead_token(self) -> str:
        """A token issued a minute ago that has already expired, as a server whose clock runs ahead sees it."""
        now = int(self._now())
        return self.token(iat=now - 60, exp=now - 30)
