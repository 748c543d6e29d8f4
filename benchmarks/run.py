"""Side-by-side benchmarks: our classes versus raw httpx, the framework floors and the peers.

    python benchmarks/run.py            # full run, writes benchmarks/RESULTS.md
    python benchmarks/run.py --smoke    # one tiny round of every case (CI), writes nothing

A loopback server (``_server.py``) runs in its own process and answers instantly, so what is
measured is client-side cost. Each case is timed over several rounds and the median round is
reported; ratios compare cases measured in the same run. Peers that are not installed are
skipped and listed as such (``make bench`` installs them: the ``bench`` group of uv.lock).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

KEY = "sk-bench-not-a-real-key"


@dataclass
class Settings:
    # Many short rounds rather than a few long ones: contenders paired within a round then run
    # closer together in time, and the shared machine's drift cancels out of the ratios.
    rounds: int = 15
    calls: int = 100  # per-call overhead: calls per round
    streams: int = 10  # streams per round (200 chunks); 2,000-chunk rounds run a tenth
    texts: int = 10_000
    concurrent: int = 100
    imports: int = 9

    @classmethod
    def smoke(cls) -> Settings:
        return cls(rounds=1, calls=2, streams=1, texts=50, concurrent=5, imports=1)


@dataclass
class Row:
    group: str
    name: str
    seconds: float | None  # median per unit (call, stream, chunk...) or total
    unit: str
    floor: str | None = None
    note: str = ""
    ratio: float | None = None  # vs the floor: the median of per-round ratios


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """The benchmark server in a child process."""

    def __enter__(self) -> Server:
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "_server.py"), str(self.port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"
        self.base = f"http://127.0.0.1:{self.port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _rotations(names: list[str], rounds: int) -> Iterator[str]:
    """Each round runs every contender once, starting one further along each time."""
    for r in range(rounds):
        k = r % len(names)
        yield from names[k:] + names[:k]


def timed_rounds(
    fns: Mapping[str, Callable[[], Any]], rounds: int, per: int
) -> dict[str, list[float]]:
    """The time each of ``fns`` takes in each of ``rounds`` rounds, divided by ``per``.

    The contenders of a case take turns within every round: load from another process or a
    change of CPU clock then falls on all of them alike, where timing one contender's rounds
    after another's let it land on one side of a ratio (seen as ±0.15 between runs)."""
    for fn in fns.values():
        fn()  # warm-up: connections, lazy imports, caches
    times: dict[str, list[float]] = {name: [] for name in fns}
    for name in _rotations(list(fns), rounds):
        gc.collect()
        start = time.perf_counter()
        fns[name]()
        times[name].append((time.perf_counter() - start) / per)
    return times


def atimed_rounds(
    fns: Mapping[str, Callable[[], Awaitable[Any]]], rounds: int, per: int
) -> dict[str, list[float]]:
    """Async twin of :func:`timed_rounds`, on the one benchmark loop."""

    async def timed() -> dict[str, list[float]]:
        for fn in fns.values():
            await fn()
        times: dict[str, list[float]] = {name: [] for name in fns}
        for name in _rotations(list(fns), rounds):
            gc.collect()
            start = time.perf_counter()
            await fns[name]()
            times[name].append((time.perf_counter() - start) / per)
        return times

    return LOOP.run_until_complete(timed())


# One loop for every async case: async clients (ours and the peers') keep their connections
# for the loop they were opened on, as in a long-running service.
LOOP = asyncio.new_event_loop()


# -- the contenders ----------------------------------------------------------------------------


def openai_target(base: str, model: str = "gpt-4o-mini", task: str = "llm/v1/chat") -> dict:
    return {
        "external_model": {
            "name": model,
            "provider": "openai",
            "task": task,
            "openai_config": {"openai_api_key_plaintext": KEY, "openai_api_base": base + "/v1"},
        }
    }


class Raw(NamedTuple):
    """Raw httpx against the benchmark server: the floor of every case."""

    call: Callable[..., str]
    stream: Callable[[str], int]
    acall: Callable[..., Awaitable[str]]
    astream: Callable[[str], Awaitable[int]]


def raw_httpx(base: str) -> Raw:
    import httpx

    url = base + "/v1/chat/completions"
    headers = {"Authorization": "Bearer " + KEY}
    client, aclient = httpx.Client(), None

    def body(model: str, stream: bool) -> dict:
        return {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}

    def call(model: str = "gpt-4o-mini") -> str:
        data = client.post(url, json=body(model, False), headers=headers).json()
        return data["choices"][0]["message"]["content"]

    def stream(model: str) -> int:
        n = 0
        with client.stream("POST", url, json=body(model, True), headers=headers) as r:
            for line in r.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    n += bool(json.loads(line[6:])["choices"])
        return n

    # httpx's default pool, as our transport and ChatOpenAI use: a larger pool with the default
    # 20 keep-alive connections reconnected 80 sockets per 100-call burst and made the floor
    # slower than the contenders.
    async def acall(model: str = "gpt-4o-mini") -> str:
        nonlocal aclient
        aclient = aclient or httpx.AsyncClient()
        r = await aclient.post(url, json=body(model, False), headers=headers)
        return r.json()["choices"][0]["message"]["content"]

    async def astream(model: str) -> int:
        nonlocal aclient
        aclient = aclient or httpx.AsyncClient()
        n = 0
        async with aclient.stream("POST", url, json=body(model, True), headers=headers) as r:
            async for line in r.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    n += bool(json.loads(line[6:])["choices"])
        return n

    return Raw(call, stream, acall, astream)


def lc_floor():
    """A do-nothing LangChain chat model: the framework's own cost per invoke / per chunk."""
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

    class Floor(BaseChatModel):
        chunks: int = 200

        @property
        def _llm_type(self) -> str:
            return "floor"

        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content="hi"))])

        async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs):
            return self._generate(messages)

        def _stream(self, messages, stop=None, run_manager=None, **kwargs):
            # Fresh objects per stream, prebuilt before timing matters: LangChain mutates
            # chunks as it merges them. on_llm_new_token is called by BaseChatModel itself.
            yield from [
                ChatGenerationChunk(message=AIMessageChunk(content=" word"))
                for _ in range(self.chunks)
            ]

        async def _astream(self, messages, stop=None, run_manager=None, **kwargs):
            for chunk in self._stream(messages):
                yield chunk

    return Floor


def run_langchain(base: str, s: Settings, raw, rows: list[Row]) -> None:
    from extmodels_integrations.langchain import ChatExternal

    floor_cls = lc_floor()
    contenders: dict[str, Any] = {"ChatExternal (ours)": ChatExternal(**openai_target(base))}
    if _has("langchain_openai"):
        from langchain_openai import ChatOpenAI

        contenders["ChatOpenAI"] = ChatOpenAI(
            model="gpt-4o-mini", base_url=base + "/v1", api_key=KEY, stream_usage=True
        )
    floor_model = floor_cls()
    n = s.calls
    sync = timed_rounds(
        {
            "raw httpx": lambda: [raw.call() for _ in range(n)],
            "floor": lambda: [floor_model.invoke("hi") for _ in range(n)],
        }
        | {
            name: (lambda m=m: [m.invoke("hi") for _ in range(n)]) for name, m in contenders.items()
        },
        s.rounds,
        n,
    )
    _floored(rows, "invoke (sync)", "LangChain floor", sync, "per call")
    asyn = atimed_rounds(
        {
            "raw httpx": lambda: _arepeat(raw.acall, n),
            "floor": lambda: _arepeat(lambda: floor_model.ainvoke("hi"), n),
        }
        | {
            name: (lambda m=m: _arepeat(lambda: m.ainvoke("hi"), n))
            for name, m in contenders.items()
        },
        s.rounds,
        n,
    )
    _floored(rows, "ainvoke", "LangChain floor", asyn, "per call")
    for chunks in (200, 2000):
        lc_streams(chunks, contenders, raw, floor_cls(chunks=chunks), s, rows)
    for name, model in contenders.items():
        m = _with_model(name, model, "mb-1")
        rows.append(
            Row("peak memory, 1 MB streamed", name, _peak(lambda m=m: list(m.stream("hi"))), "MiB")
        )
    lc_burst(contenders, raw, floor_model, s, rows)


def _floored(
    rows: list[Row], group: str, floor_name: str, times: dict[str, list[float]], unit: str
) -> None:
    """Rows for one case: raw httpx, the floor (raw httpx plus the framework's own cost, timed
    as ``"floor"``), then every contender against that floor.

    A contender's ratio is the median of its per-round ratios: a round times everyone back to
    back, so pairing within rounds cancels what the machine did to all of them at once."""
    raw = times.pop("raw httpx")
    rows.append(Row(group, "raw httpx", statistics.median(raw), unit))
    floor = raw
    if "floor" in times:
        floor = [r + f for r, f in zip(raw, times.pop("floor"), strict=True)]
        rows.append(Row(group, floor_name, statistics.median(floor), unit))
    else:
        floor_name = "raw httpx"
    for name, seconds in times.items():
        ratio = statistics.median(t / f for t, f in zip(seconds, floor, strict=True))
        rows.append(Row(group, name, statistics.median(seconds), unit, floor_name, ratio=ratio))


def lc_burst(contenders: dict[str, Any], raw, floor_model, s: Settings, rows: list[Row]) -> None:
    """Wall time of ``s.concurrent`` ainvoke calls in flight at once, on one event loop."""

    def burst(call: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
        async def run() -> None:
            await asyncio.gather(*(call() for _ in range(s.concurrent)))

        return run

    times = atimed_rounds(
        {"raw httpx": burst(raw.acall), "floor": burst(lambda: floor_model.ainvoke("hi"))}
        | {name: burst(lambda m=m: m.ainvoke("hi")) for name, m in contenders.items()},
        s.rounds,
        1,
    )
    _floored(rows, f"{s.concurrent} concurrent ainvoke", "LangChain floor", times, "total")


def _with_model(name: str, model: Any, model_name: str) -> Any:
    if name.startswith("ChatExternal"):
        return model.bind(model=model_name)
    return model.model_copy(update={"model_name": model_name})


def _drain(model: Any, n: int) -> None:
    for _ in range(n):
        for _chunk in model.stream("hi"):
            pass


async def _adrain_model(model: Any, n: int) -> None:
    for _ in range(n):
        async for _chunk in model.astream("hi"):
            pass


def lc_streams(chunks: int, contenders: dict, raw, floor: Any, s: Settings, rows: list) -> None:
    """Sync and async streams of ``chunks`` chunks: raw httpx, floor, contenders."""
    n = max(1, s.streams // (chunks // 200))
    model_name, per = f"chunks-{chunks}", n * chunks
    models = {name: _with_model(name, model, model_name) for name, model in contenders.items()}
    sync = timed_rounds(
        {
            "raw httpx": lambda: [raw.stream(model_name) for _ in range(n)],
            "floor": lambda: _drain(floor, n),
        }
        | {name: (lambda m=m: _drain(m, n)) for name, m in models.items()},
        s.rounds,
        per,
    )
    _floored(rows, f"stream {chunks} chunks (sync)", "LangChain floor", sync, "per chunk")
    asyn = atimed_rounds(
        {
            "raw httpx": lambda: _adrain(raw.astream, model_name, n),
            "floor": lambda: _adrain_model(floor, n),
        }
        | {name: (lambda m=m: _adrain_model(m, n)) for name, m in models.items()},
        s.rounds,
        per,
    )
    _floored(rows, f"astream {chunks} chunks", "LangChain floor", asyn, "per chunk")


async def _arepeat(call: Callable[[], Awaitable[Any]], n: int) -> None:
    for _ in range(n):
        await call()


async def _adrain(astream, model: str, n: int) -> None:
    for _ in range(n):
        await astream(model)


def _peak(fn: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def run_embeddings(base: str, s: Settings, rows: list[Row]) -> None:
    from extmodels_integrations.langchain import ExternalEmbeddings

    texts = [f"document number {i} about nothing in particular" for i in range(s.texts)]
    group = f"embed {s.texts} texts"
    contenders: dict[str, Any] = {
        "ExternalEmbeddings (ours)": ExternalEmbeddings(
            **openai_target(base, "text-embedding-3-small", "llm/v1/embeddings")
        )
    }
    if _has("langchain_openai"):
        from langchain_openai import OpenAIEmbeddings

        contenders["OpenAIEmbeddings"] = OpenAIEmbeddings(
            model="text-embedding-3-small",
            base_url=base + "/v1",
            api_key=KEY,
            check_embedding_ctx_length=False,
        )
    if _has("llama_index.embeddings.openai"):
        from llama_index.embeddings.openai import OpenAIEmbedding

        li = OpenAIEmbedding(model="text-embedding-3-small", api_base=base + "/v1", api_key=KEY)
        contenders["LlamaIndex OpenAIEmbedding"] = _LlamaEmbed(li)
    rounds = max(1, s.rounds // 4)  # each round is seconds long: a few suffice
    sync = timed_rounds(
        {name: (lambda m=m: m.embed_documents(texts)) for name, m in contenders.items()}, rounds, 1
    )
    asyn = atimed_rounds(
        {name: (lambda m=m: m.aembed_documents(texts)) for name, m in contenders.items()},
        rounds,
        1,
    )
    for name in contenders:
        rows.append(Row(group + " (sync)", name, statistics.median(sync[name]), "total"))
        rows.append(Row(group + " (async)", name, statistics.median(asyn[name]), "total"))


class _LlamaEmbed:
    def __init__(self, model: Any) -> None:
        self.model = model

    def embed_documents(self, texts: list[str]) -> Any:
        return self.model.get_text_embedding_batch(texts)

    async def aembed_documents(self, texts: list[str]) -> Any:
        return await self.model.aget_text_embedding_batch(texts)


def run_llama_index(base: str, s: Settings, raw, rows: list[Row]) -> None:
    from llama_index.core.base.llms.types import ChatMessage

    messages = [ChatMessage(role="user", content="hi")]
    contenders: dict[str, Callable[[str], Any]] = {}
    if _has("extmodels_integrations.llama_index"):
        from extmodels_integrations.llama_index import ChatExternal as LIChatExternal

        contenders["LlamaIndex ChatExternal (ours)"] = lambda model: LIChatExternal(
            **openai_target(base, model)
        )
    if _has("llama_index.llms.openai_like"):
        from llama_index.llms.openai_like import OpenAILike

        contenders["OpenAILike"] = lambda model: OpenAILike(
            model=model, api_base=base + "/v1", api_key=KEY, is_chat_model=True
        )
    if not contenders:
        return
    floor_cls = li_floor()
    floor, calls = floor_cls(), s.calls
    chat = {name: make("gpt-4o-mini") for name, make in contenders.items()}
    times = timed_rounds(
        {
            "raw httpx": lambda: [raw.call() for _ in range(calls)],
            "floor": lambda: [floor.chat(messages) for _ in range(calls)],
        }
        | {
            name: (lambda m=m: [m.chat(messages) for _ in range(calls)]) for name, m in chat.items()
        },
        s.rounds,
        calls,
    )
    _floored(rows, "LlamaIndex chat (sync)", "LlamaIndex floor", times, "per call")
    times = atimed_rounds(
        {
            "raw httpx": lambda: _arepeat(raw.acall, calls),
            "floor": lambda: _arepeat(lambda: floor.achat(messages), calls),
        }
        | {
            name: (lambda m=m: _arepeat(lambda: m.achat(messages), calls))
            for name, m in chat.items()
        },
        s.rounds,
        calls,
    )
    _floored(rows, "LlamaIndex achat", "LlamaIndex floor", times, "per call")
    for chunks in (200, 2000):
        li_streams(chunks, contenders, messages, raw, floor_cls(chunks=chunks), s, rows)
    for name, make in contenders.items():
        llm = make("mb-1")
        peak = _peak(lambda llm=llm: deque(llm.stream_chat(messages), maxlen=1))
        rows.append(Row("LlamaIndex peak memory, 1 MB streamed", name, peak, "MiB"))


def li_streams(
    chunks: int,
    contenders: dict[str, Callable[[str], Any]],
    messages: list[Any],
    raw,
    floor: Any,
    s: Settings,
    rows: list[Row],
) -> None:
    """Sync and async LlamaIndex streams of ``chunks`` chunks, every response kept (as a caller
    collecting them would): raw httpx, floor, contenders."""
    n = max(1, s.streams // (chunks // 200))
    model_name, per = f"chunks-{chunks}", n * chunks
    llms = {name: make(model_name) for name, make in contenders.items()}

    async def acollect(llm: Any) -> None:
        for _ in range(n):
            [r async for r in await llm.astream_chat(messages)]

    times = timed_rounds(
        {
            "raw httpx": lambda: [raw.stream(model_name) for _ in range(n)],
            "floor": lambda: [list(floor.stream_chat(messages)) for _ in range(n)],
        }
        | {
            name: (lambda m=m: [list(m.stream_chat(messages)) for _ in range(n)])
            for name, m in llms.items()
        },
        s.rounds,
        per,
    )
    group = f"LlamaIndex stream {chunks} chunks"
    _floored(rows, group + " (sync)", "LlamaIndex floor", times, "per chunk")
    times = atimed_rounds(
        {"raw httpx": lambda: _adrain(raw.astream, model_name, n), "floor": lambda: acollect(floor)}
        | {name: (lambda m=m: acollect(m)) for name, m in llms.items()},
        s.rounds,
        per,
    )
    _floored(rows, f"LlamaIndex astream {chunks} chunks", "LlamaIndex floor", times, "per chunk")


def li_floor() -> Any:
    """A do-nothing LlamaIndex LLM: the framework's own cost (instrumentation, callbacks) per
    chat and per streamed chunk."""
    from llama_index.core.base.llms.types import (
        ChatMessage,
        ChatResponse,
        CompletionResponse,
        LLMMetadata,
    )
    from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
    from llama_index.core.llms.custom import CustomLLM

    class Floor(CustomLLM):
        chunks: int = 200

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(is_chat_model=True)

        @llm_completion_callback()
        def complete(self, prompt, formatted=False, **kwargs):
            return CompletionResponse(text="hi")

        @llm_completion_callback()
        def stream_complete(self, prompt, formatted=False, **kwargs):
            yield CompletionResponse(text="hi")

        @llm_chat_callback()
        def chat(self, messages, **kwargs):
            return ChatResponse(message=ChatMessage(role="assistant", content="hi"))

        # CustomLLM's own async methods wrap the sync ones in a second callback: a floor must
        # pay the framework once, as a native async LLM does.
        @llm_chat_callback()
        async def achat(self, messages, **kwargs):
            return ChatResponse(message=ChatMessage(role="assistant", content="hi"))

        @llm_chat_callback()
        def stream_chat(self, messages, **kwargs):
            return self._responses()

        @llm_chat_callback()
        async def astream_chat(self, messages, **kwargs):
            async def gen():
                for response in self._responses():
                    yield response

            return gen()

        def _responses(self):
            text = ""
            for _ in range(self.chunks):
                text += " word"
                message = ChatMessage(role="assistant", content=text)
                yield ChatResponse(message=message, delta=" word")

    return Floor


# The floor is what the core cannot avoid: importing its two dependencies.
IMPORT_FLOOR = "httpx + pydantic (floor)"
IMPORTS = {
    IMPORT_FLOOR: "httpx, pydantic.main, pydantic.types",
    "extmodels_integrations": "extmodels_integrations",
    "extmodels_integrations.langchain": "extmodels_integrations.langchain",
    "extmodels_integrations.llama_index": "extmodels_integrations.llama_index",
    "langchain_openai": "langchain_openai",
    "llama_index.llms.openai_like": "llama_index.llms.openai_like",
}


def _import_env(cache: str) -> dict[str, str]:
    """Imports as an installed wheel sees them: with bytecode cached. Without this an editable
    checkout (or PYTHONDONTWRITEBYTECODE) recompiles our modules on every run while the peers,
    installed from wheels, load theirs from .pyc, which once made us look ~60 ms slower."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def run_imports(s: Settings, rows: list[Row]) -> None:
    code = "import time; t = time.perf_counter(); import {m}; print(time.perf_counter() - t)"
    with tempfile.TemporaryDirectory() as cache:
        env = _import_env(cache)

        def once(module: str) -> float:
            argv = [sys.executable, "-c", code.format(m=module)]
            out = subprocess.run(argv, check=True, capture_output=True, text=True, env=env)
            return float(out.stdout)

        present = {}
        for name, module in IMPORTS.items():
            if all(_has(m.strip()) for m in module.split(",")):
                once(module)  # writes the bytecode cache
                present[name] = module
            else:
                rows.append(Row("import time", name, None, "s", note="not installed"))
        times: dict[str, list[float]] = {name: [] for name in present}
        for name in _rotations(list(present), s.imports):  # in turns, as in timed_rounds()
            times[name].append(once(present[name]))
        for name, seconds in times.items():
            floor = IMPORT_FLOOR if name == "extmodels_integrations" else None
            rows.append(Row("import time", name, statistics.median(seconds), "s", floor=floor))
        run_sign_ins(s, rows, env)


# A loopback host answers the SDK's host-metadata probe ({}: nothing to learn), so the SDK row
# measures its import and Config, not a network timeout. The OAuth token itself is not
# fetched: signing in builds the auth, the first request fetches the token.
SIGN_IN_CODE = """
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
host = f"http://127.0.0.1:{server.server_address[1]}"
t = time.perf_counter()
from extmodels_integrations._workspace import find_workspace, sign_in
from extmodels_integrations._workspace_oauth import sdk_sign_in
arguments = {"host": host, **json.loads(sys.argv[1])}
if arguments.pop("via_sdk", False):
    sdk_sign_in(arguments, 5.0)
else:
    sign_in(find_workspace(arguments))
print(time.perf_counter() - t)
"""
SIGN_IN_FLOOR = "PAT (core)"
SIGN_INS = {
    SIGN_IN_FLOOR: {"token": "bench-pat", "auth_type": "pat"},
    "OAuth M2M (core)": {"client_id": "c", "client_secret": "bench-s", "auth_type": "oauth-m2m"},
    "PAT through databricks-sdk": {"token": "bench-pat", "auth_type": "pat", "via_sdk": True},
}


def run_sign_ins(s: Settings, rows: list[Row], env: dict[str, str]) -> None:
    """Import + sign-in cost of each method in a fresh interpreter: what a PAT or M2M user
    pays against the databricks-sdk path (its import is most of it)."""

    def once(arguments: dict[str, Any]) -> float:
        argv = [sys.executable, "-c", SIGN_IN_CODE, json.dumps(arguments)]
        out = subprocess.run(argv, check=True, capture_output=True, text=True, env=env)
        return float(out.stdout)

    present = {
        name: arguments
        for name, arguments in SIGN_INS.items()
        if not arguments.get("via_sdk") or _has("databricks.sdk")
    }
    for name in SIGN_INS.keys() - present.keys():
        rows.append(Row("import + sign-in", name, None, "s", note="databricks-sdk not installed"))
    for arguments in present.values():
        once(arguments)  # writes the bytecode cache
    times: dict[str, list[float]] = {name: [] for name in present}
    for name in _rotations(list(present), s.imports):
        times[name].append(once(present[name]))
    for name, seconds in times.items():
        floor = SIGN_IN_FLOOR if name != SIGN_IN_FLOOR else None
        rows.append(Row("import + sign-in", name, statistics.median(seconds), "s", floor=floor))


# -- report ------------------------------------------------------------------------------------


def _fmt(seconds: float | None, unit: str) -> str:
    if seconds is None:
        return "—"
    if unit == "MiB":
        return f"{seconds:.1f} MiB"
    if seconds >= 0.1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-4:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def table(rows: list[Row]) -> str:
    lines = ["| case | contender | median | vs floor | vs ours |", "|---|---|---|---|---|"]
    by_group: dict[str, list[Row]] = {}
    for row in rows:
        by_group.setdefault(row.group, []).append(row)
    for group, members in by_group.items():
        named = {r.name: r for r in members}
        ours = next((r for r in members if "(ours)" in r.name), None)
        for r in members:
            floor = named.get(r.floor) if r.floor else None
            ratio = r.ratio
            if ratio is None and floor and floor.seconds and r.seconds:
                ratio = r.seconds / floor.seconds
            vs_floor = f"{ratio:.2f}x" if ratio is not None else ""
            vs_ours = (
                f"{r.seconds / ours.seconds:.2f}x"
                if ours and ours.seconds and r.seconds and r is not ours and "(ours)" not in r.name
                else ""
            )
            value = _fmt(r.seconds, r.unit) + (f" {r.unit}" if r.unit not in ("MiB", "s") else "")
            name = r.name + (f" — {r.note}" if r.note else "")
            lines.append(f"| {group} | {name} | {value} | {vs_floor} | {vs_ours} |")
    return "\n".join(lines)


def header() -> str:
    versions = ", ".join(
        f"{d} {_version(d)}"
        for d in (
            "extmodels-integrations",
            "httpx",
            "langchain-core",
            "langchain-openai",
            "llama-index-core",
            "llama-index-llms-openai-like",
            "llama-index-embeddings-openai",
            "openai",
        )
    )
    machine = f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    return f"Machine: {machine}\n\nVersions: {versions}\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="one tiny round of every case")
    parser.add_argument("--output", type=Path, default=None, help="where to write the results")
    parser.add_argument(
        "--only",
        default=",".join(SUITES),
        help=f"comma-separated suites to run (default all: {', '.join(SUITES)})",
    )
    args = parser.parse_args()
    s = Settings.smoke() if args.smoke else Settings()
    only = set(args.only.split(","))
    if unknown := only - set(SUITES):
        parser.error(f"unknown suites {sorted(unknown)}; choose from {', '.join(SUITES)}")
    rows: list[Row] = []
    with Server() as server:
        raw = raw_httpx(server.base)
        for suite in SUITES:
            needs = SUITES[suite]
            if suite in only and suite != "imports" and (needs is None or _has(needs)):
                RUNNERS[suite](server.base, s, raw, rows)
        # Lets the finalizers of async generators a peer left open run (OpenAILike's astream
        # leaves one), rather than warn at exit.
        LOOP.run_until_complete(LOOP.shutdown_asyncgens())
    if "imports" in only:
        run_imports(s, rows)
    report = "# Benchmark results\n\n" + header() + "\n" + table(rows) + "\n"
    print(report)
    # RESULTS.md holds full runs only; a smoke or partial run writes only where it is told.
    full = not args.smoke and only == set(SUITES)
    output = args.output or (HERE / "RESULTS.md" if full else None)
    if output is not None:
        output.write_text(report, encoding="utf-8")
    return 0


def run_core(base: str, s: Settings, raw, rows: list[Row]) -> None:
    """The framework-free client against raw httpx (its floor)."""
    from extmodels_integrations import ChatRequest, ExternalClient

    client = ExternalClient(**openai_target(base))

    def request(model: str | None = None) -> ChatRequest:
        return ChatRequest(messages=[{"role": "user", "content": "hi"}], model=model)

    calls, n = s.calls, s.streams
    times = timed_rounds(
        {
            "raw httpx": lambda: [raw.call() for _ in range(calls)],
            "ExternalClient (ours)": lambda: [client.chat(request()) for _ in range(calls)],
        },
        s.rounds,
        calls,
    )
    _floored(rows, "core chat (sync)", "raw httpx", times, "per call")

    def ours_stream() -> None:
        for _ in range(n):
            for _chunk in client.stream_chat(request("chunks-200")):
                pass

    times = timed_rounds(
        {
            "raw httpx": lambda: [raw.stream("chunks-200") for _ in range(n)],
            "ExternalClient (ours)": ours_stream,
        },
        s.rounds,
        n * 200,
    )
    _floored(rows, "core stream 200 chunks (sync)", "raw httpx", times, "per chunk")


# Suite name -> the framework it needs (None: core only).
SUITES: dict[str, str | None] = {
    "core": None,
    "langchain": "langchain_core",
    "embeddings": "langchain_core",
    "llama_index": "llama_index.core",
    "imports": None,
}
RUNNERS: dict[str, Callable[..., None]] = {
    "core": run_core,
    "langchain": run_langchain,
    "embeddings": lambda base, s, _raw, rows: run_embeddings(base, s, rows),
    "llama_index": run_llama_index,
}


if __name__ == "__main__":
    sys.exit(main())
