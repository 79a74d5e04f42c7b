"""One HTTP answer of the LocalIssuer, and the OAuth error shape its endpoints share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Answer", "oauth_error"]


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer of the issuer: status, JSON body and any extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def oauth_error(status: int, error: str, description: str, headers: Mapping[str, str] | None = None) -> Answer:
    """RFC 6749 §5.2: the token endpoint's error response."""
    return Answer(status, {"error": error, "error_description": description}, dict(headers or {}))
