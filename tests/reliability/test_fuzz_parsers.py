"""Property-based fuzzing of the AWS event-stream decoder and of every provider's response,
stream-event and error parsers: whatever bytes or JSON a provider (or a broken proxy) sends,
the caller gets a well-typed unified result or one of our typed errors, never an
``IndexError``/``KeyError``/``struct.error``/``OverflowError`` from deep inside a parser.

Seeds are the real wire replies of the provider conformance cases (``tests/providers/cases``)
plus an OpenAI-format set; hypothesis mutates them (a subtree replaced by arbitrary JSON, a key
dropped, a value of the wrong type, events dropped, repeated or inserted) and also sends
arbitrary JSON. Runs are derandomized and database-less, so CI sees the same examples each time.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import itertools
import json
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extmodels_integrations._config import parse_external_model
from extmodels_integrations._exceptions import APIError, ExternalModelError, MalformedResponseError
from extmodels_integrations._secrets import SecretResolver
from extmodels_integrations._types import (
    ChatChoice,
    ChatChunk,
    ChatChunkChoice,
    ChatResponse,
    CompletionChoice,
    CompletionChunk,
    CompletionResponse,
    EmbeddingsResponse,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from extmodels_integrations.providers import build_adapter
from extmodels_integrations.providers._aws import EventMessage, EventStreamDecoder
from extmodels_integrations.providers._base import Adapter
from tests.support.harness import collect_cases, sse
from tests.support.wires.bedrock import EVENT_STREAM, chunk_frame

# Bounded and deterministic: the whole file runs in well under a minute on one core.
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DECODER_FUZZ = settings(FUZZ, max_examples=150)


# ----------------------------------------------------------------------------- strategies

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
_ODD_VALUES: tuple[Any, ...] = (None, True, 0, -1, 2**70, 1.5, float("inf"), "", "x", [], {}, [{}])


def json_values(keys: list[str]) -> st.SearchStrategy[Any]:
    """Any JSON value; dict keys are often the wire's own keys, so parsers get past their
    first lookup."""
    key = st.sampled_from(keys) | st.text(max_size=8) if keys else st.text(max_size=8)
    return st.recursive(
        _SCALARS,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(key, inner, max_size=5),
        max_leaves=16,
    )


def _odd(draw: st.DrawFn) -> Any:
    return copy.deepcopy(draw(st.sampled_from(_ODD_VALUES)))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _mutate(draw: st.DrawFn, value: Any, arbitrary: st.SearchStrategy[Any]) -> Any:
    path = draw(st.sampled_from(list(_paths(value))))
    op = draw(st.sampled_from(("replace", "retype", "delete", "wrap")))
    if not path:
        return draw(arbitrary) if op == "replace" else _odd(draw)
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if op == "delete":
        del parent[last]
    elif op == "replace":
        parent[last] = draw(arbitrary)
    elif op == "retype":
        parent[last] = _odd(draw)
    else:
        parent[last] = [parent[last]]
    return value


@st.composite
def mutated(draw: st.DrawFn, seeds: list[Any], arbitrary: st.SearchStrategy[Any]) -> Any:
    """A seed with one to three structural mutations."""
    value = copy.deepcopy(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 3))):
        value = _mutate(draw, value, arbitrary)
    return value


@st.composite
def mutated_stream(
    draw: st.DrawFn, seeds: list[list[Any]], arbitrary: st.SearchStrategy[Any]
) -> list[Any]:
    """A seed event list with events mutated, dropped, repeated or inserted."""
    events = copy.deepcopy(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(("mutate", "mutate", "drop", "repeat", "insert")))
        if op == "insert" or not events:
            events.insert(draw(st.integers(0, len(events))), _event_like(draw, events, arbitrary))
            continue
        i = draw(st.integers(0, len(events) - 1))
        if op == "drop":
            del events[i]
        elif op == "repeat":
            events.insert(i, copy.deepcopy(events[i]))
        else:
            events[i] = _mutate_event(draw, events[i], arbitrary)
    return events


def _event_like(draw: st.DrawFn, events: list[Any], arbitrary: st.SearchStrategy[Any]) -> Any:
    data = draw(arbitrary)
    if events and isinstance(events[0], tuple):
        return (draw(st.sampled_from([e[0] for e in events])), data)
    return data


def _mutate_event(draw: st.DrawFn, event: Any, arbitrary: st.SearchStrategy[Any]) -> Any:
    if isinstance(event, tuple):
        name, data = event
        return (name, _mutate(draw, data, arbitrary))
    return _mutate(draw, event, arbitrary)


def splits(body: bytes, cuts: list[int]) -> list[bytes]:
    """``body`` cut at the given offsets (taken modulo its length, sorted)."""
    if not body:
        return [b""]
    points = sorted({c % len(body) for c in cuts} | {0, len(body)})
    return [body[a:b] for a, b in itertools.pairwise(points)]


# ----------------------------------------------------------------------------- result checks


def _is_int(value: Any) -> bool:
    return type(value) is int


def _opt_str(value: Any) -> bool:
    return value is None or type(value) is str


def check_usage(usage: Any) -> None:
    if usage is None:
        return
    assert type(usage) is Usage
    for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert _is_int(getattr(usage, name)), (name, usage)
    for name in ("cache_read_tokens", "cache_creation_tokens", "reasoning_tokens"):
        value = getattr(usage, name)
        assert value is None or _is_int(value), (name, usage)


def _check_head(result: Any) -> None:
    assert _opt_str(result.id), result.id
    assert _opt_str(result.model), result.model
    assert _opt_str(result.provider)
    assert isinstance(result.metadata, dict)
    check_usage(result.usage)


def check_chat(result: Any) -> None:
    assert type(result) is ChatResponse
    _check_head(result)
    assert isinstance(result.choices, list)
    for choice in result.choices:
        assert type(choice) is ChatChoice
        assert _is_int(choice.index), choice
        assert _opt_str(choice.content) and _opt_str(choice.reasoning), choice
        assert _opt_str(choice.finish_reason) and type(choice.role) is str, choice
        for call in choice.tool_calls:
            assert type(call) is ToolCall
            assert all(type(v) is str for v in (call.id, call.name, call.arguments)), call


def _check_completion_choices(choices: Any) -> None:
    assert isinstance(choices, list)
    for choice in choices:
        assert type(choice) is CompletionChoice
        assert _is_int(choice.index) and type(choice.text) is str, choice
        assert _opt_str(choice.finish_reason), choice


def check_completion(result: Any) -> None:
    assert type(result) is CompletionResponse
    _check_head(result)
    _check_completion_choices(result.choices)


def check_embeddings(result: Any) -> None:
    assert type(result) is EmbeddingsResponse
    assert _opt_str(result.model)
    check_usage(result.usage)
    assert isinstance(result.embeddings, list)
    for vector in result.embeddings:
        assert isinstance(vector, list), vector
        assert all(type(x) in (int, float) for x in vector), vector


def check_chat_chunk(chunk: Any) -> None:
    assert type(chunk) is ChatChunk
    _check_head(chunk)
    for choice in chunk.choices:
        assert type(choice) is ChatChunkChoice
        assert _is_int(choice.index), choice
        assert _opt_str(choice.content) and _opt_str(choice.reasoning), choice
        assert _opt_str(choice.finish_reason) and _opt_str(choice.role), choice
        for delta in choice.tool_calls or ():
            assert type(delta) is ToolCallDelta and _is_int(delta.index), delta
            assert all(_opt_str(v) for v in (delta.id, delta.name, delta.arguments)), delta


def check_completion_chunk(chunk: Any) -> None:
    assert type(chunk) is CompletionChunk
    _check_head(chunk)
    _check_completion_choices(chunk.choices)


# ----------------------------------------------------------------------------- framing

# Header value type -> strategy for a value of that type (the event-stream specification).
_HEADER_VALUES: dict[int, st.SearchStrategy[Any]] = {
    0: st.just(True),
    1: st.just(False),
    2: st.integers(-(2**7), 2**7 - 1),
    3: st.integers(-(2**15), 2**15 - 1),
    4: st.integers(-(2**31), 2**31 - 1),
    5: st.integers(-(2**63), 2**63 - 1),
    6: st.binary(max_size=20),
    7: st.text(max_size=20),
    8: st.integers(-(2**63), 2**63 - 1),
    9: st.binary(min_size=16, max_size=16),
}
_PACK = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}


def _header_bytes(name: str, kind: int, value: Any) -> bytes:
    raw_name = name.encode()
    out = bytes([len(raw_name)]) + raw_name + bytes([kind])
    if kind in _PACK:
        return out + struct.pack(_PACK[kind], value)
    if kind in (6, 7):
        raw = value.encode() if kind == 7 else value
        return out + struct.pack(">H", len(raw)) + raw
    return out + (value if kind == 9 else b"")


def _frame(headers: dict[str, Any], payload: bytes, head: bytes | None = None) -> bytes:
    """One message; ``head`` overrides the encoded headers (to plant garbage with valid CRCs)."""
    if head is None:
        head = b"".join(_header_bytes(k, 7, v) for k, v in headers.items())
    prelude = struct.pack(">II", 12 + len(head) + len(payload) + 4, len(head))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + head + payload
    return message + struct.pack(">I", zlib.crc32(message))


# ----------------------------------------------------------------------------- targets and seeds


@dataclass
class Subject:
    """One (target, task) pair: how to build its adapter, and real replies to mutate."""

    id: str
    target: dict[str, Any]
    bodies: dict[str, list[Any]]  # chat | complete | embed -> JSON bodies
    streams: dict[str, list[list[Any]]]  # stream_chat | stream_complete -> event lists
    wire: str = "sse"  # sse | sse-named | eventstream | body
    _adapter: Adapter | None = None

    def adapter(self) -> Adapter:
        """The adapter, built once: building a Vertex one parses an RSA key."""
        if self._adapter is None:
            model = parse_external_model(self.target["external_model"])
            self._adapter = build_adapter(model, SecretResolver())
        return self._adapter


def _openai_target(provider: str, task: str) -> dict[str, Any]:
    config = (
        {"openai_config": {"openai_api_key_plaintext": "sk-fuzz"}}
        if provider == "openai"
        else {
            "databricks_model_serving_config": {
                "databricks_workspace_url": "https://example.cloud.databricks.com",
                "databricks_api_token_plaintext": "dapi-fuzz",
            }
        }
    )
    return {"external_model": {"name": "m", "provider": provider, "task": task, **config}}


_OPENAI_USAGE = {
    "prompt_tokens": 3,
    "completion_tokens": 2,
    "total_tokens": 5,
    "prompt_tokens_details": {"cached_tokens": 1},
    "completion_tokens_details": {"reasoning_tokens": 1},
}
_OPENAI_CHAT = {
    "id": "c1",
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": [{"type": "text", "text": "hi"}, {"type": "reasoning", "summary": []}],
                "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "{}"}}],
            },
            "finish_reason": "stop",
        }
    ],
    "usage": _OPENAI_USAGE,
}
_OPENAI_CHAT_EVENTS = [
    {"id": "c1", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "h"}}]},
    {
        "id": "c1",
        "choices": [
            {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{"}}]}}
        ],
    },
    {"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    {"id": "c1", "choices": [], "usage": _OPENAI_USAGE},
    "[DONE]",
]
_OPENAI_COMPLETION = {
    "id": "x",
    "choices": [{"index": 0, "text": "hi", "finish_reason": "length"}],
    "usage": _OPENAI_USAGE,
}
_OPENAI_COMPLETION_EVENTS = [
    {"id": "x", "choices": [{"index": 0, "text": "h"}]},
    {"id": "x", "choices": [{"index": 0, "text": "", "finish_reason": "stop"}]},
    {"id": "x", "choices": [], "usage": _OPENAI_USAGE},
    "[DONE]",
]
_OPENAI_EMBEDDINGS = {
    "data": [{"index": 1, "embedding": [0.5, 1]}, {"index": 0, "embedding": "AAAAPw=="}],
    "model": "m",
    "usage": {"prompt_tokens": 2, "total_tokens": 2},
}


def _openai_subjects() -> list[Subject]:
    out = []
    for provider in ("openai", "databricks-model-serving"):
        out += [
            Subject(
                f"{provider}-chat",
                _openai_target(provider, "llm/v1/chat"),
                {"chat": [_OPENAI_CHAT]},
                {"stream_chat": [_OPENAI_CHAT_EVENTS]},
            ),
            Subject(
                f"{provider}-completions",
                _openai_target(provider, "llm/v1/completions"),
                {"complete": [_OPENAI_COMPLETION]},
                {"stream_complete": [_OPENAI_COMPLETION_EVENTS]},
            ),
            Subject(
                f"{provider}-embeddings",
                _openai_target(provider, "llm/v1/embeddings"),
                {"embed": [_OPENAI_EMBEDDINGS]},
                {},
            ),
        ]
    return out


def _frames_of(raw: bytes) -> list[Any]:
    """The events inside an event-stream body: a chunk's model event as a dict, anything else
    (exception messages) as the frame's bytes."""
    events: list[Any] = []
    for message in EventStreamDecoder().feed(raw):
        if message.headers.get(":event-type") == "chunk":
            wrapper = json.loads(message.payload)
            events.append(json.loads(base64.b64decode(wrapper["bytes"])))
        else:
            events.append(_frame(message.headers, message.payload))
    return events


def _case_subjects() -> list[Subject]:
    """Seeds from the conformance cases: every successful reply, grouped by target."""
    subjects: dict[str, Subject] = {}
    for case in collect_cases():
        if "external_model" not in case.target:
            continue
        model = case.target["external_model"]
        key = f"{model['provider']}-{model['name']}-{model['task'].rsplit('/', 1)[1]}"
        subject = subjects.setdefault(key, Subject(key, dict(case.target), {}, {}))
        for exchange in case.exchanges:
            reply = exchange.reply
            if reply.status != 200:
                continue
            if case.call.startswith("stream_"):
                if reply.raw is not None and reply.content_type == EVENT_STREAM:
                    subject.wire, events = "eventstream", _frames_of(reply.raw)
                elif reply.events:
                    subject.wire = "sse-named" if reply.named_events else "sse"
                    events = list(reply.events)
                elif reply.json is not None:
                    subject.wire, events = "body", [reply.json]
                else:
                    continue
                subject.streams.setdefault(case.call, []).append(events)
            elif reply.json is not None:
                subject.bodies.setdefault(case.call, []).append(reply.json)
    return [s for s in subjects.values() if s.bodies or s.streams]


SUBJECTS = _openai_subjects() + _case_subjects()


def _keys(value: Any, out: set[str]) -> set[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            out.add(k)
            _keys(v, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _keys(v, out)
    return out


def _wire_keys(subject: Subject) -> list[str]:
    found: set[str] = set()
    _keys(list(subject.bodies.values()), found)
    _keys(list(subject.streams.values()), found)
    return sorted(found)


def encode(wire: str, events: list[Any]) -> bytes:
    """The response body that carries ``events`` on ``wire``."""
    if wire == "eventstream":
        return b"".join(e if isinstance(e, bytes) else chunk_frame(e) for e in events)
    if wire == "body":
        return b"".join(json.dumps(e).encode() for e in events)
    return sse(*events, named=wire == "sse-named")


# ----------------------------------------------------------------------------- parser properties

_CHECKS: dict[str, Callable[[Any], None]] = {
    "chat": check_chat,
    "complete": check_completion,
    "embed": check_embeddings,
    "stream_chat": check_chat_chunk,
    "stream_complete": check_completion_chunk,
}
_PARSE = {"chat": "parse_chat", "complete": "parse_completion", "embed": "parse_embeddings"}
_STREAM = {"stream_chat": "chat_stream", "stream_complete": "completion_stream"}


def parse_body(subject: Subject, call: str, data: Any) -> None:
    """Parse a JSON body: a well-typed result or our typed error, nothing else."""
    adapter = subject.adapter()
    try:
        result = getattr(adapter, _PARSE[call])(data, {})
    except ExternalModelError:
        return
    _CHECKS[call](result)


def parse_stream(subject: Subject, call: str, body: bytes, cuts: list[int]) -> None:
    """Feed a stream body in pieces: well-typed chunks, then a clean close or our typed error."""
    stream = getattr(subject.adapter(), _STREAM[call])()
    try:
        chunks = [c for piece in splits(body, cuts) for c in stream.feed(piece)]
        chunks += stream.close()
    except ExternalModelError:
        return
    for chunk in chunks:
        _CHECKS[call](chunk)


_BODY_CASES = [
    pytest.param(s, call, id=f"{s.id}-{call}") for s in SUBJECTS for call in sorted(s.bodies)
]
_STREAM_CASES = [
    pytest.param(s, call, id=f"{s.id}-{call}") for s in SUBJECTS for call in sorted(s.streams)
]


def test_seeds_cover_every_provider() -> None:
    """The fuzzers reach every provider (and each Bedrock sub-provider) plain and streaming."""
    from extmodels_integrations.providers import MODULES

    providers = {s.target["external_model"]["provider"] for s in SUBJECTS}
    assert providers == set(MODULES)
    bedrock = {
        s.target["external_model"]["amazon_bedrock_config"]["bedrock_provider"]
        for s in SUBJECTS
        if s.streams and s.wire == "eventstream"
    }
    assert bedrock == {"anthropic", "cohere", "ai21labs", "amazon"}
    for subject in SUBJECTS:  # the seeds themselves hold the property
        for call, bodies in subject.bodies.items():
            for body in bodies:
                parse_body(subject, call, body)


@pytest.mark.parametrize(("subject", "call"), _BODY_CASES)
def test_response_parser_on_mutated_replies(subject: Subject, call: str) -> None:
    arbitrary = json_values(_wire_keys(subject))

    @FUZZ
    @given(data=mutated(subject.bodies[call], arbitrary))
    def run(data: Any) -> None:
        parse_body(subject, call, data)

    run()


@pytest.mark.parametrize(("subject", "call"), _BODY_CASES)
def test_response_parser_on_any_json(subject: Subject, call: str) -> None:
    @FUZZ
    @given(data=json_values(_wire_keys(subject)))
    def run(data: Any) -> None:
        parse_body(subject, call, data)

    run()


@pytest.mark.parametrize(("subject", "call"), _STREAM_CASES)
def test_stream_parser_on_mutated_streams(subject: Subject, call: str) -> None:
    arbitrary = json_values(_wire_keys(subject))

    @FUZZ
    @given(
        events=mutated_stream(subject.streams[call], arbitrary),
        cuts=st.lists(st.integers(0, 10_000), max_size=6),
    )
    def run(events: list[Any], cuts: list[int]) -> None:
        parse_stream(subject, call, encode(subject.wire, events), cuts)

    run()


@pytest.mark.parametrize(("subject", "call"), _STREAM_CASES)
def test_stream_parser_on_any_events(subject: Subject, call: str) -> None:
    arbitrary = json_values(_wire_keys(subject))
    events = st.lists(arbitrary.filter(lambda v: isinstance(v, dict)), max_size=5)
    if subject.wire == "sse-named":
        names = sorted({e[0] for seed in subject.streams[call] for e in seed})
        events = st.lists(st.tuples(st.sampled_from(names), arbitrary), max_size=5)

    @FUZZ
    @given(events=events, cuts=st.lists(st.integers(0, 10_000), max_size=4))
    def run(events: list[Any], cuts: list[int]) -> None:
        parse_stream(subject, call, encode(subject.wire, events), cuts)

    run()


def _one_per_provider() -> list[Subject]:
    seen: dict[str, Subject] = {}
    for subject in SUBJECTS:
        config = subject.target["external_model"].get("amazon_bedrock_config", {})
        key = subject.target["external_model"]["provider"] + config.get("bedrock_provider", "")
        seen.setdefault(key, subject)
    return list(seen.values())


@pytest.mark.parametrize("subject", _one_per_provider(), ids=lambda s: s.id)
def test_error_mapper_on_any_body(subject: Subject) -> None:
    """Error bodies are as untrusted as answers: the mapper always returns an APIError."""
    arbitrary = json_values(["error", "message", "code", "type", "detail", "details", "status"])
    bodies = st.binary(max_size=64) | arbitrary.map(lambda v: json.dumps(v).encode())
    adapter = subject.adapter()

    @FUZZ
    @given(
        status=st.sampled_from([400, 401, 403, 404, 408, 413, 422, 429, 500, 503, 529, 418]),
        body=bodies,
        headers=st.dictionaries(
            st.sampled_from(["retry-after", "x-request-id", "x-amzn-errortype", "request-id"]),
            st.text(max_size=10),
            max_size=3,
        ),
    )
    def run(status: int, body: bytes, headers: dict[str, str]) -> None:
        error = adapter.error(status, headers, body)
        assert isinstance(error, APIError)
        assert isinstance(str(error), str)

    run()


# ----------------------------------------------------------------------------- event-stream decoder


@st.composite
def messages(draw: st.DrawFn) -> tuple[dict[str, Any], bytes, bytes]:
    """A message with headers of every value type: (headers, payload, encoded frame)."""
    headers: dict[str, Any] = {}
    head = b""
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.text(min_size=1, max_size=10).filter(lambda n: len(n.encode()) < 256))
        kind = draw(st.sampled_from(sorted(_HEADER_VALUES)))
        value = draw(_HEADER_VALUES[kind])
        if name in headers:
            continue
        headers[name] = value
        head += _header_bytes(name, kind, value)
    payload = draw(st.binary(max_size=200))
    return headers, payload, _frame({}, payload, head)


def decode(pieces: list[bytes]) -> list[EventMessage]:
    decoder = EventStreamDecoder()
    out = [m for piece in pieces for m in decoder.feed(piece)]
    return out + decoder.close()


@DECODER_FUZZ
@given(body=st.binary(max_size=300), cuts=st.lists(st.integers(0, 400), max_size=6))
def test_event_stream_decoder_on_any_bytes(body: bytes, cuts: list[int]) -> None:
    with pytest.raises(MalformedResponseError) if body else contextlib.nullcontext():
        decode(splits(body, cuts))


@DECODER_FUZZ
@given(frames=st.lists(messages(), max_size=4), cuts=st.lists(st.integers(0, 2000), max_size=8))
def test_event_stream_decoder_is_split_invariant(
    frames: list[tuple[dict[str, Any], bytes, bytes]], cuts: list[int]
) -> None:
    body = b"".join(f[2] for f in frames)
    decoded = decode(splits(body, cuts))
    assert decoded == [EventMessage(h, p) for h, p, _ in frames]
    assert decoded == decode([body]) == decode([bytes([b]) for b in body])


@DECODER_FUZZ
@given(
    frames=st.lists(messages(), min_size=1, max_size=3),
    at=st.integers(0, 10_000),
    flip=st.integers(1, 255),
    cuts=st.lists(st.integers(0, 2000), max_size=4),
)
def test_event_stream_decoder_catches_every_corrupt_byte(
    frames: list[tuple[dict[str, Any], bytes, bytes]], at: int, flip: int, cuts: list[int]
) -> None:
    """CRC32 catches any single corrupted byte, wherever it lands (length fields included)."""
    body = bytearray(b"".join(f[2] for f in frames))
    body[at % len(body)] ^= flip
    with pytest.raises(MalformedResponseError):
        decode(splits(bytes(body), cuts))


@DECODER_FUZZ
@given(frames=st.lists(messages(), min_size=1, max_size=3), data=st.data())
def test_event_stream_decoder_refuses_a_truncated_stream(
    frames: list[tuple[dict[str, Any], bytes, bytes]], data: st.DataObject
) -> None:
    body = b"".join(f[2] for f in frames)
    cut = data.draw(st.integers(1, len(body) - 1))
    ends = {sum(len(f[2]) for f in frames[:i]) for i in range(len(frames) + 1)}
    if cut in ends:  # a cut between messages is a clean, shorter stream
        assert len(decode([body[:cut]])) == sorted(ends).index(cut)
    else:
        with pytest.raises(MalformedResponseError):
            decode([body[:cut]])


@DECODER_FUZZ
@given(head=st.binary(max_size=60), payload=st.binary(max_size=30))
def test_event_stream_decoder_on_garbage_headers_with_valid_crcs(
    head: bytes, payload: bytes
) -> None:
    """Header bytes that pass both CRCs but are malformed: a typed error or a message."""
    try:
        decoded = decode([_frame({}, payload, head)])
    except MalformedResponseError:
        return
    assert len(decoded) == 1 and decoded[0].payload == payload


# ----------------------------------------------------------------------------- found by the fuzzers

_OPENAI_CHAT_SUBJECT = SUBJECTS[0]
_VERTEX_CHAT = next(s for s in SUBJECTS if s.id == "google-cloud-vertex-ai-gemini-2.0-flash-chat")
_EVENT = {"id": "c1", "choices": [{"index": 0, "delta": {"content": "h"}, "finish_reason": "stop"}]}


@pytest.mark.parametrize(
    ("subject", "call", "data"),
    [
        # int(float("inf")): OverflowError escaped the OpenAI usage parser.
        (_OPENAI_CHAT_SUBJECT, "chat", {"choices": [], "usage": {"prompt_tokens": float("inf")}}),
        # A list where a dict belongs: AttributeError escaped the Gemini parser.
        (_VERTEX_CHAT, "chat", {"candidates": [[]]}),
        (_VERTEX_CHAT, "chat", {"candidates": [{"finishReason": ["STOP"]}]}),
        # Wrong types passed through into the unified result.
        (_OPENAI_CHAT_SUBJECT, "chat", {"id": ["c1"], "choices": []}),
        (
            _OPENAI_CHAT_SUBJECT,
            "chat",
            {"choices": [{"message": {"tool_calls": [{"function": {"name": 1.5}}]}}]},
        ),
        (SUBJECTS[2], "embed", {"data": [{"embedding": [0.5, {}]}]}),
    ],
)
def test_malformed_replies_found_by_fuzzing_raise_stream_error(
    subject: Subject, call: str, data: Any
) -> None:
    with pytest.raises(MalformedResponseError, match=r"unexpected shape|malformed response"):
        getattr(subject.adapter(), _PARSE[call])(data, {})


@pytest.mark.parametrize(
    "usage", [{"prompt_tokens": [1]}, {"prompt_tokens_details": 1.5, "prompt_tokens": 1}]
)
def test_malformed_stream_usage_raises_stream_error(usage: Any) -> None:
    """The OpenAI stream parser read usage outside its shape guard: TypeError/AttributeError."""
    stream = _OPENAI_CHAT_SUBJECT.adapter().chat_stream()
    with pytest.raises(MalformedResponseError):
        stream.feed(sse({**_EVENT, "usage": usage}))
