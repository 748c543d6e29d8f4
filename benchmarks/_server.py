"""A loopback server for the benchmarks that answers instantly in the OpenAI wire format.

Run as a separate process (``python benchmarks/_server.py PORT``) so its work never shares the
GIL with the client being measured. Every answer is prebuilt; the request body is parsed only
for ``stream``, ``model`` and the number of embedding inputs.

The ``model`` name picks the answer: ``chunks-200`` / ``chunks-2000`` stream that many content
chunks, ``mb-1`` streams about 1 MB of text in 1 KB chunks, anything else answers one short
sentence (streamed as 8 chunks).
"""

from __future__ import annotations

import asyncio
import json
import sys

CREATED = 1_700_000_000
EMBEDDING_DIM = 16


def _chunk(content: str | None, finish: str | None = None, usage: bool = False) -> bytes:
    event = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "bench",
        "choices": [
            {
                "index": 0,
                "delta": {} if content is None else {"role": "assistant", "content": content},
                "finish_reason": finish,
            }
        ]
        if not usage
        else [],
    }
    if usage:
        event["usage"] = {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}
    return b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"


def _stream_body(pieces: list[str]) -> bytes:
    parts = [_chunk(p) for p in pieces]
    parts += [_chunk(None, "stop"), _chunk(None, usage=True), b"data: [DONE]\n\n"]
    return b"".join(parts)


SENTENCE = "The quick brown fox jumps over the lazy dog."
STREAMS = {
    "chunks-200": _stream_body([" word"] * 200),
    "chunks-2000": _stream_body([" word"] * 2000),
    "mb-1": _stream_body(["x" * 1023 + " "] * 1024),
}
DEFAULT_STREAM = _stream_body([" " + w for w in SENTENCE.split()])
COMPLETION = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": CREATED,
        "model": "bench",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": SENTENCE},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14},
    },
    separators=(",", ":"),
).encode()
VECTOR = json.dumps([0.25] * EMBEDDING_DIM)


def _embeddings(count: int) -> bytes:
    items = ",".join(
        f'{{"object":"embedding","index":{i},"embedding":{VECTOR}}}' for i in range(count)
    )
    usage = f'{{"prompt_tokens":{count},"total_tokens":{count}}}'
    return f'{{"object":"list","model":"bench","data":[{items}],"usage":{usage}}}'.encode()


def answer(path: str, body: bytes) -> tuple[bytes, bytes]:
    """(content type, body) for one request."""
    request = json.loads(body) if body else {}
    if path.endswith("/embeddings") or "input" in request:
        inputs = request.get("input")
        count = len(inputs) if isinstance(inputs, list) else 1
        return b"application/json", _embeddings(count)
    if request.get("stream"):
        return b"text/event-stream", STREAMS.get(str(request.get("model")), DEFAULT_STREAM)
    return b"application/json", COMPLETION


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            path = lines[0].split(b" ")[1].decode()
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            content_type, payload = answer(path.split("?")[0], body)
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: "
                + content_type
                + b"\r\ncontent-length: "
                + str(len(payload)).encode()
                + b"\r\nx-request-id: bench\r\n\r\n"
                + payload
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(_serve, "127.0.0.1", port, backlog=512)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
