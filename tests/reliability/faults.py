"""The faults of the matrix, as functions from a well-formed :class:`Reply` to a script."""

from __future__ import annotations

import time
from email.utils import formatdate

from tests.reliability.fault_server import (
    CLOSE,
    END,
    RESET,
    Fault,
    Reply,
    Step,
    chunk,
    edit_json,
    head,
    ok,
    status,
    with_body,
    with_parts,
)

#: A word of every answer (the prompt asks for it): the UTF-8 faults rewrite it.
MARKER = b"QQ"
VALID_UTF8 = "é€"
# "\xe2\x82" opens a three-byte sequence that "(" does not continue.
INVALID_UTF8 = b"\xe2\x82("
STALL = 5.0  # longer than any timeout the suite configures; ends when the client hangs up
HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


def retry_after_date(seconds: int) -> Fault:
    """429 whose ``Retry-After`` is an HTTP date ``seconds`` from now (whole seconds)."""

    def fault(reply: Reply) -> list[Step]:
        when = formatdate(int(time.time()) + seconds, usegmt=True)
        return status(429, {"retry-after": when})(reply)

    return fault


def reset_before(reply: Reply) -> list[Step]:
    """The connection is reset after the request arrived, before any byte of the answer."""
    return [RESET]


def _cut(reply: Reply, then: Step) -> list[Step]:
    """Half the answer (half the stream parts, or half the body), then ``then``."""
    if reply.stream:
        parts = reply.parts[: len(reply.parts) // 2]
        return [*with_parts(reply, parts, end=False), then]
    body = reply.parts[0]
    return [head(reply.status, reply.headers, len(body)) + body[: len(body) // 2], then]


def reset_mid(reply: Reply) -> list[Step]:
    """Reset in the middle of the body or stream."""
    return _cut(reply, RESET)


def stall_mid(reply: Reply) -> list[Step]:
    """Silence in the middle of the body or stream, longer than any timeout."""
    return _cut(reply, STALL)


def trickle(reply: Reply) -> list[Step]:
    """The whole answer, headers included, one byte per TCP write."""
    data = b"".join(s for s in ok(reply) if isinstance(s, bytes))
    return [data[i : i + 1] for i in range(len(data))]


def malformed_json(reply: Reply) -> list[Step]:
    """The body, or the middle event of the stream, cut in the middle of its JSON."""
    if not reply.stream:
        body = reply.parts[0]
        return with_body(reply, body[: len(body) // 2])
    parts = list(reply.parts)
    mid = len(parts) // 2
    parts[mid] = edit_json(parts[mid], lambda raw: raw[: len(raw) // 2], reply.wire)
    return with_parts(reply, parts)


def truncated(reply: Reply) -> list[Step]:
    """A stream that ends cleanly half-way, without its final events; a body shorter than
    its ``content-length`` followed by a clean close."""
    if reply.stream:
        return with_parts(reply, reply.parts[: len(reply.parts) // 2])
    return _cut(reply, CLOSE)


def wrong_content_type(reply: Reply) -> list[Step]:
    """HTTP 200 with an HTML page (a proxy's), for a JSON or a stream request."""
    return with_body(reply, HTML, "text/html; charset=utf-8")


def _split_marker(reply: Reply, new: bytes, split_at: int) -> list[Step]:
    """``MARKER`` replaced by ``new``, and the write cut ``split_at`` bytes into ``new``."""
    if not reply.stream:
        body = reply.parts[0]
        at = body.index(MARKER)
        body = body.replace(MARKER, new, 1)
        first = head(reply.status, reply.headers, len(body)) + body[: at + split_at]
        return [first, body[at + split_at :]]
    parts = list(reply.parts)
    for i, part in enumerate(parts):
        seen: list[bool] = []

        def swap(raw: bytes, seen: list[bool] = seen) -> bytes:
            seen.append(MARKER in raw)
            return raw.replace(MARKER, new, 1)

        edited = edit_json(part, swap, reply.wire)
        if seen[0]:
            # Bedrock frames carry the text base64-encoded: cut the frame in the middle.
            at = edited.find(new)
            cut = at + split_at if at >= 0 else len(edited) // 2
            steps = with_parts(reply, parts[:i], end=False)
            return [
                *steps,
                chunk(edited[:cut]),
                chunk(edited[cut:]),
                *map(chunk, parts[i + 1 :]),
                END,
            ]
    raise AssertionError(f"no part of the answer carries {MARKER!r}")


def invalid_utf8_split(reply: Reply) -> list[Step]:
    """An invalid UTF-8 sequence in the text, its first byte in one write, the rest in the
    next."""
    return _split_marker(reply, INVALID_UTF8, 1)


def valid_utf8_split(reply: Reply) -> list[Step]:
    """``é€`` in the text, the write cut inside ``€``'s three bytes."""
    return _split_marker(reply, VALID_UTF8.encode(), 3)


def error_event(event: bytes, index: int | None) -> Fault:
    """HTTP 200, then the provider's in-stream error event at ``index`` (``None``: in the
    middle, after text); the stream ends after it, as providers end it."""

    def fault(reply: Reply) -> list[Step]:
        at = len(reply.parts) // 2 if index is None else index
        return with_parts(reply, [*reply.parts[:at], event])

    return fault


def pings_only(reply: Reply) -> list[Step]:
    """Half the stream, then only SSE keep-alive comments, every 50 ms, for up to 2 s: bytes
    keep arriving, so only the stall watch (not a read timeout) can end the wait."""
    pings: list[Step] = [chunk(b": keep-alive\n\n"), 0.05] * 40
    return [*with_parts(reply, reply.parts[: len(reply.parts) // 2], end=False), *pings, CLOSE]
