"""Strict compact-JWS parsing (RFC 7515 §7.1, RFC 8725): access tokens now, DPoP proofs next.

Canonical base64url segments only (one spelling per value), header and payload as UTF-8
JSON objects with no duplicate member names at any depth and no NaN/Infinity. Parsing
verifies nothing: the caller checks the algorithm, finds the key and checks the signature
over `signing_input` before trusting a byte of the payload.
"""

from __future__ import annotations

import binascii
import json
import math
import re
from collections.abc import Callable
from json.scanner import make_scanner
from typing import Any, Final, NamedTuple, TypeGuard, cast

from auth0_asgi._memo import BoundedMemo
from auth0_asgi.errors import MalformedTokenError

from .frozen import FrozenDict, frozen_object

__all__ = [
    "CompactJWS",
    "decode_segment",
    "frozen_json_object",
    "is_safe_number",
    "json_object",
    "parse_compact",
    "split_compact",
]

# RFC 7515 §7.1: three segments of the base64url alphabet, joined by dots. Deleting these
# characters from the token must leave nothing: one linear pass in C, a third of what a
# regular expression's fullmatch took on a 700-byte token.
_COMPACT_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
# RFC 4648 §3.5: in canonical encoding the unused low bits of the last character are zero,
# so each text decodes from exactly one spelling.
_CANONICAL_LAST_CHAR: Final = {2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}
_FROM_URLSAFE: Final = bytes.maketrans(b"-_", b"+/")
_PADDING: Final = ("", "", "==", "=")
_MAX_SAFE_INTEGER: Final = 2**53 - 1


def is_safe_number(value: object) -> TypeGuard[int | float]:
    """Whether `value` is a JSON number that can be a NumericDate."""
    # bool is an int subclass and float("nan") is a float: neither is a NumericDate. RFC 7493
    # §2.2: numbers beyond ±(2**53 - 1) are not interoperable, so a "never expiring" exp of
    # 10**400 or 1e300 is malformed rather than valid for ever. One bound for ints and floats
    # (NaN fails every comparison, the infinities fail the bound).
    if type(value) is int or type(value) is float:
        return -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER
    return False


class CompactJWS(NamedTuple):
    """A compact JWS taken apart: the parsed header, the raw payload and signature, and what was signed."""

    header: dict[str, Any]
    payload: bytes
    signature: bytes
    signing_input: bytes


def decode_segment(segment: str, error: Callable[[str], Exception]) -> bytes:
    """Decode a segment of a `split_compact` result (its alphabet is already checked)."""
    remainder = len(segment) % 4
    if remainder == 1 or (remainder > 1 and segment[-1] not in _CANONICAL_LAST_CHAR[remainder]):
        raise error("segment is not canonical base64url")
    # The alphabet is checked, so the plain decoder with translated characters is exact.
    return binascii.a2b_base64((segment + _PADDING[remainder]).encode("ascii").translate(_FROM_URLSAFE))


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    # RFC 8259 §6: "1e99999" is valid JSON text, but Python reads it as Infinity, which no
    # JSON value is (and which breaks the app's own JSON encoder later).
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("a number beyond the range of a double")
    return value


def _frozen_refusing_duplicates(pairs: list[tuple[str, Any]]) -> FrozenDict:
    result = frozen_object(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


# One decoder for every token: json.loads would build a new one per call when hooks are given.
_STRICT_JSON: Final = json.JSONDecoder(
    object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant, parse_float=_finite_float
)
# The same, building read-only objects and arrays: for what a cache shares between requests.
_FROZEN_JSON: Final = json.JSONDecoder(
    object_pairs_hook=_frozen_refusing_duplicates, parse_constant=_refuse_constant, parse_float=_finite_float
)
# Their scanners (what `decode` calls under its wrapper), called directly by `_decode`.
# (typeshed types make_scanner's argument as the C scanner's own type; it takes a decoder.)
_Scan = Callable[[str, int], tuple[Any, int]]
_STRICT_SCAN: Final[_Scan] = make_scanner(cast(Any, _STRICT_JSON))
_FROZEN_SCAN: Final[_Scan] = make_scanner(cast(Any, _FROZEN_JSON))
# A \u escape of a surrogate code point: either half of a pair, or a lone one (RFC 8259 §8.2:
# a lone surrogate is no Unicode text, and encoding it later raises in the app).
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F]")


def _holds_lone_surrogate(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def json_object(data: bytes, what: str, error: Callable[[str], Exception] = MalformedTokenError) -> dict[str, Any]:
    """`data` as a strict UTF-8 JSON object; raises `error` naming `what` otherwise.

    Strict: no duplicate member names, no NaN or Infinity (spelled so, or a number too large
    for a double), no lone surrogate escape.
    """
    return _decoded_object(_STRICT_JSON, _STRICT_SCAN, data, what, error)


def frozen_json_object(data: bytes, what: str, error: Callable[[str], Exception] = MalformedTokenError) -> FrozenDict:
    """`data` as `json_object` reads it, with every object and array in it read-only."""
    # The frozen decoder's hook builds every object, the outermost included.
    return cast(FrozenDict, _decoded_object(_FROZEN_JSON, _FROZEN_SCAN, data, what, error))


# RFC 8259 §2: the whitespace JSON allows around a value.
_JSON_WHITESPACE: Final = frozenset(" \t\n\r")


def _decode(decoder: json.JSONDecoder, scan: _Scan, text: str) -> Any:
    """`decoder.decode(text)`, calling its scanner `scan` directly when `text` has no whitespace
    around its value (a token's never has): the Python wrapper's two regular-expression
    matches and two calls were a fifth of decoding a token's payload."""
    if not text or text[0] in _JSON_WHITESPACE or text[-1] in _JSON_WHITESPACE:
        return decoder.decode(text)
    try:
        value, end = scan(text, 0)
    except StopIteration as exc:
        raise json.JSONDecodeError("Expecting value", text, exc.value) from None
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def _decoded_object(
    decoder: json.JSONDecoder,
    scan: _Scan,
    data: bytes,
    what: str,
    error: Callable[[str], Exception],
) -> dict[str, Any]:
    try:
        value = _decode(decoder, scan, data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise error(f"{what} is not strict UTF-8 JSON") from exc
    if not isinstance(value, dict):
        raise error(f"{what} is not a JSON object")
    # Only text that escapes a surrogate can hold a lone one: the walk is skipped otherwise.
    if _SURROGATE_ESCAPE.search(data) is not None and _holds_lone_surrogate(value):
        raise error(f"{what} holds a lone surrogate")
    return value


def split_compact(token: str, error: Callable[[str], Exception] = MalformedTokenError) -> tuple[str, str, str]:
    """The header, payload and signature segments of `token`, still encoded; raises `error` unless
    it is three segments of the base64url alphabet."""
    segments = token.split(".", 3)  # a fourth part means too many: no need to split them all
    # An empty signature is left for the algorithm check to refuse (alg "none").
    if (
        len(segments) != 3
        or not segments[0]
        or not segments[1]
        or not token.isascii()
        or token.encode("ascii").translate(None, _COMPACT_ALPHABET)
    ):
        raise error("not three base64url segments")
    header_segment, payload_segment, signature_segment = segments
    return header_segment, payload_segment, signature_segment


class _UnreadableHeader(Exception):
    """A header segment the memo's compute refused, with the reason for the caller's own error."""


def _parse_header(segment: str) -> FrozenDict:
    return frozen_json_object(decode_segment(segment, _UnreadableHeader), "header", _UnreadableHeader)


#: Token headers already parsed, by their encoded segment: an issuer signs every token with the
#: same few headers, so a new token's header is almost never new. Frozen, so no caller can
#: change what the next one is given; only short segments kept, so a flood of distinct headers
#: costs nothing but the parse it would have cost anyway.
_PARSED_HEADERS: Final = BoundedMemo(_parse_header, max_entries=256, max_length=512)


def parse_compact(token: str, error: Callable[[str], Exception] = MalformedTokenError) -> CompactJWS:
    """`token` taken apart; raises `error` (a callable of one reason) for any structural defect.

    The header is read-only (it may be shared with other tokens that have the same one).
    """
    header_segment, payload_segment, signature_segment = split_compact(token, error)
    try:
        header = _PARSED_HEADERS[header_segment]
    except _UnreadableHeader as exc:
        raise error(str(exc)) from exc.__cause__
    return CompactJWS(
        header,
        decode_segment(payload_segment, error),
        decode_segment(signature_segment, error),
        token[: len(header_segment) + 1 + len(payload_segment)].encode("ascii"),
    )
