"""Property tests of the SSE decoder every SSE provider shares: any bytes, split anywhere, give
only our typed errors, and the same bytes split differently give the same events."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extmodels_integrations._exceptions import MalformedResponseError
from extmodels_integrations._transport import SSEDecoder, SSEEvent

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Bytes that look like SSE often enough to reach every branch: field names, separators, every
# line ending, multi-byte and broken UTF-8.
_ATOMS = [
    b"data:",
    b"data: ",
    b"event: ",
    b"id: 1",
    b": keep-alive",
    b"retry: 10",
    b"\n",
    b"\r",
    b"\r\n",
    b"\n\n",
    b"{}",
    b"[DONE]",
    b"x",
    b" ",
    b":",
    "é€😀".encode(),
    b"\xe2\x82",
    b"\xff",
    b"\xc3",
]
SSE_BYTES = st.one_of(
    st.binary(max_size=256),
    st.lists(st.sampled_from(_ATOMS), max_size=60).map(b"".join),
)
_LINE = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)))
VALID_SSE = st.lists(
    st.tuples(
        st.one_of(st.none(), _LINE.filter(lambda s: len(s) <= 8)),
        st.lists(_LINE.filter(lambda s: len(s) <= 20), max_size=3),
        st.sampled_from(["\n", "\r\n", "\r"]),
    ),
    max_size=8,
)


def _splits(data: bytes, draw: st.DataObject) -> list[bytes]:
    """``data`` cut at up to 12 points drawn inside it."""
    cuts = draw.draw(st.lists(st.integers(0, len(data)), max_size=12), label="cuts")
    edges = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def _decode(pieces: list[bytes]) -> tuple[list[SSEEvent], type[Exception] | None]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    try:
        for piece in pieces:
            events += decoder.feed(piece)
        events += decoder.close()
    except MalformedResponseError as exc:
        return events, type(exc)
    return events, None


@SETTINGS
@given(SSE_BYTES, st.data())
def test_any_bytes_in_any_split_give_only_stream_errors(data: bytes, draw: st.DataObject) -> None:
    _decode(_splits(data, draw))  # anything but MalformedResponseError fails the test


@SETTINGS
@given(SSE_BYTES, st.data())
def test_the_split_does_not_change_the_events(data: bytes, draw: st.DataObject) -> None:
    whole, whole_error = _decode([data])
    split, split_error = _decode(_splits(data, draw))
    assert split_error == whole_error
    if whole_error is None:
        assert split == whole
    else:
        # An error ends the stream where the bad byte is: what came before is the same.
        assert split[: len(whole)] == whole[: len(split)]


@SETTINGS
@given(VALID_SSE, st.data())
def test_well_formed_events_come_back_exactly(
    events: list[tuple[str | None, list[str], str]], draw: st.DataObject
) -> None:
    wire = ""
    expected = []
    for name, lines, eol in events:
        if name is not None:
            wire += f"event: {name}{eol}"
        wire += "".join(f"data: {line}{eol}" for line in lines)
        wire += eol
        if lines:
            expected.append(SSEEvent("\n".join(lines), name))
    data = wire.encode()
    assert _decode(_splits(data, draw)) == (expected, None)
