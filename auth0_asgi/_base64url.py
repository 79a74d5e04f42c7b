"""base64url without padding (RFC 7515 §2, RFC 4648 §5): the one encoder, and the lenient decoder.

The strict decoder, which refuses what a JOSE serialisation cannot hold (padding, stray
characters, non-canonical trailing bits), is `auth0_asgi._tokens.jws.decode_segment`: every token and
proof is read with it. The lenient one here is for diagnosis only, where a malformed token
should still be shown.
"""

from __future__ import annotations

import base64

__all__ = ["decode_lenient", "encode"]


def encode(data: bytes) -> str:
    """`data` as unpadded base64url text."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode_lenient(text: str) -> bytes:
    """`text` decoded with or without its padding; raises `binascii.Error` (a ValueError) when it
    is no base64url at all. Never for a check: `_jws.decode_segment` is the strict reader."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
