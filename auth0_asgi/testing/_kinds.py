"""Tokens of the kinds rules tell apart: step-up authentication, delegation, anonymous sessions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["TokenKinds"]


class TokenKinds:
    """Mixed into `LocalIssuer`: the user tokens of RFC 9470 step-up and RFC 8693 delegation."""

    _now: Callable[[], float]

    def token(self, **claims: Any) -> str:  # pragma: no cover - LocalIssuer's own
        raise NotImplementedError

    def user_token(
        self,
        *,
        acr: str | None = None,
        amr: Iterable[str] = (),
        authenticated_ago: float = 0.0,
        namespace: str = "",
        subject: str = "auth0|local-user",
        **claims: Any,
    ) -> str:
        """A user's token saying how and when the user authenticated (RFC 9470).

        `acr`, `amr` and `auth_time` (`authenticated_ago` seconds before now), under
        `namespace` + name: Auth0 reserves the plain names in access tokens, so an Action adds
        them as ``https://example.com/acr`` and so on.
        """
        authenticated: dict[str, Any] = {"auth_time": int(self._now() - authenticated_ago)}
        if acr is not None:
            authenticated["acr"] = acr
        if amr:
            authenticated["amr"] = list(amr)
        named = {namespace + name: value for name, value in authenticated.items()}
        return self.token(**{"subject": subject, "gty": None, "azp": "local-app", **named, **claims})

    def delegated_token(self, *actors: str, subject: str = "auth0|local-user", **claims: Any) -> str:
        """A token of `subject` that `actors` act for (RFC 8693 `act`): the current actor first,
        then the prior ones, as an On-Behalf-Of exchange chains them."""
        act: dict[str, Any] | None = None
        for actor in reversed(actors):
            act = {"sub": actor} if act is None else {"sub": actor, "act": act}
        return self.token(**{"subject": subject, "gty": None, "act": act, **claims})

    def anonymous_token(self, **claims: Any) -> str:
        """A token of an Auth0 anonymous session (subject ``anon@...``), refused unless a prefix allows it."""
        return self.token(**{"subject": "anon@local-session", "gty": None, **claims})

    def mtls_token(self, thumbprint: str, **claims: Any) -> str:
        """A token bound to the client certificate of `thumbprint` (RFC 8705 `cnf.x5t#S256`;
        `ClientCertificate.thumbprint`): accepted only from a client presenting it."""
        return self.token(**{"cnf": {"x5t#S256": thumbprint}, **claims})
