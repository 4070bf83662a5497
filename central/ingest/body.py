"""From request bytes to a :class:`protocols.sync.Batch`: bounded inflate, parse, locate errors.

A gzip body is inflated with a hard output cap (a zip bomb stops at ``max_inflated_bytes``, it
never fills memory). A schema violation is refused with the location of the first problem in
the form ``readings[17].source_ts`` and the count of the rest.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from central.errors import BadRequest, TooLarge, Unprocessable
from protocols.sync import Batch

GZIP_MAGIC = b"\x1f\x8b"
MAX_REPORTED_ERRORS = 5


def inflate(body: bytes, *, content_encoding: str | None, max_inflated_bytes: int) -> bytes:
    """The JSON bytes of a request body, gzip or identity.

    A body is inflated when it says ``Content-Encoding: gzip`` or starts with the gzip magic.
    Raises :class:`TooLarge` past ``max_inflated_bytes`` and :class:`BadRequest` for an unknown
    encoding or a corrupt or truncated gzip stream.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding not in {"gzip", "identity", "x-gzip"}:
        raise BadRequest(
            f"Content-Encoding {encoding!r} is not supported; send gzip or identity",
            error="unsupported_encoding",
        )
    if encoding == "identity" and not body.startswith(GZIP_MAGIC):
        if len(body) > max_inflated_bytes:
            raise TooLarge(
                f"body is {len(body)} bytes; the limit is {max_inflated_bytes}",
                error="body_too_large",
            )
        return body
    inflater = zlib.decompressobj(wbits=31)  # gzip framing only
    try:
        out = inflater.decompress(body, max_inflated_bytes + 1)
    except zlib.error as exc:
        raise BadRequest(f"body is not valid gzip data: {exc}", error="bad_gzip") from exc
    if len(out) > max_inflated_bytes or inflater.unconsumed_tail:
        raise TooLarge(
            f"gzip body inflates past the limit of {max_inflated_bytes} bytes",
            error="inflated_too_large",
        )
    if not inflater.eof:
        raise BadRequest("gzip body is truncated", error="bad_gzip")
    return out


def format_location(loc: Iterable[int | str]) -> str:
    """``('readings', 17, 'source_ts')`` -> ``readings[17].source_ts``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(body)"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe_validation_error(exc: ValidationError) -> tuple[str, list[str | int]]:
    """A one-paragraph message for a validation error, and the location of the first problem."""
    errors = exc.errors(include_url=False)
    parts = []
    for err in errors[:MAX_REPORTED_ERRORS]:
        where = format_location(err["loc"])
        given = (
            "" if err["type"] in {"missing", "json_invalid"} else f" (got {_shown(err['input'])})"
        )
        parts.append(f"{where}: {err['msg']}{given}")
    more = len(errors) - MAX_REPORTED_ERRORS
    if more > 0:
        parts.append(f"and {more} more problem(s)")
    location = list(errors[0]["loc"]) if errors else []
    return "; ".join(parts), location


def _find_nul(value: Any, path: list[str | int]) -> list[str | int] | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _find_nul(key, [*path, "(key)"]) or _find_nul(item, [*path, str(key)])
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _find_nul(item, [*path, i])
            if found is not None:
                return found
    return None


def refuse_nul_chars(raw: bytes, batch: Batch) -> None:
    """Refuse text holding NUL (``\\u0000``): PostgreSQL cannot store it in text or JSON.

    The byte search is C-speed on every batch; the walk that names the field runs only when it
    hits (it can also hit an escaped backslash followed by ``u0000``, which is then accepted).
    """
    if b"\\u0000" not in raw:
        return
    where = _find_nul(batch.model_dump(mode="json"), [])
    if where is not None:
        raise Unprocessable(
            f"{format_location(where)} holds a NUL character (\\u0000); text cannot hold it",
            error="schema",
            location=where,
        )


def parse_batch(raw: bytes) -> Batch:
    """Validate JSON bytes as a :class:`Batch`; :class:`Unprocessable` names the first problem."""
    try:
        return Batch.model_validate_json(raw)
    except ValidationError as exc:
        detail, location = describe_validation_error(exc)
        kind = "malformed_json" if exc.errors()[0]["type"] == "json_invalid" else "schema"
        raise Unprocessable(detail, error=kind, location=location) from exc
