"""A loopback OpenAI-format provider for the gateway's load and fault tests.

Run as its own process (``python -m tests.gateway._stream_provider PORT``) so the gateway and
the test client never share its event loop. Streams go out chunked, one event per chunk, and the
request's ``model`` picks the behaviour:

- ``steady``: 8 content events 25 ms apart, then the usage event and ``[DONE]`` (~0.2 s), so
  hundreds of streams are in flight at once;
- ``breaks``: 3 content events, then the connection is cut (no usage, no ``[DONE]``, no final
  chunk): a provider that fails mid-stream;
- ``slow``: 60 content events 100 ms apart (~6 s): a stream still running when a gateway worker
  is killed.

A request without ``stream`` gets one chat completion.
"""

from __future__ import annotations

import asyncio
import json
import sys

PIECES = {"steady": (8, 0.025), "breaks": (3, 0.01), "slow": (60, 0.1)}
USAGE = {"prompt_tokens": 5, "completion_tokens": 8, "total_tokens": 13}


def _event(payload: object) -> bytes:
    data = b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _chunk(model: str, delta: dict[str, str], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return _event(
        {
            "id": "chatcmpl-load",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": model,
            "choices": [choice],
        }
    )


async def _stream(writer: asyncio.StreamWriter, model: str) -> bool:
    """Write one stream; False when it was cut on purpose (the connection is gone)."""
    count, pause = PIECES.get(model, PIECES["steady"])
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    for i in range(count):
        writer.write(_chunk(model, {"role": "assistant", "content": f" w{i}"}))
        await writer.drain()
        await asyncio.sleep(pause)
    if model == "breaks":
        writer.transport.abort()
        return False
    writer.write(_chunk(model, {}, "stop"))
    writer.write(
        _event(
            {
                "id": "chatcmpl-load",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": model,
                "choices": [],
                "usage": USAGE,
            }
        )
    )
    data = b"data: [DONE]\n\n"
    writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n")
    await writer.drain()
    return True


def _completion(model: str) -> bytes:
    body = json.dumps(
        {
            "id": "chatcmpl-load",
            "object": "chat.completion",
            "created": 1,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "hello"},
                    "finish_reason": "stop",
                }
            ],
            "usage": USAGE,
        }
    ).encode()
    head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
    return head.encode() + b"\r\n\r\n" + body


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            request = json.loads(await reader.readexactly(length)) if length else {}
            model = str(request.get("model"))
            if request.get("stream"):
                if not await _stream(writer, model):
                    return
            else:
                writer.write(_completion(model))
                await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(_serve, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
