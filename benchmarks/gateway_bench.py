"""The self-hosted gateway against LiteLLM's proxy and MLflow's gateway, in front of one provider.

    python benchmarks/gateway_bench.py              # full run, writes benchmarks/RESULTS-gateway.md
    python benchmarks/gateway_bench.py --smoke      # a few requests per case (CI), writes nothing
    python benchmarks/gateway_bench.py --only ours,litellm

Every gateway runs as its operator would start it, 2 worker processes (the machine has 2 cores),
in front of the same loopback provider (``_server.py``: prebuilt OpenAI-format bytes, its own
process), and gets the same OpenAI chat-completions body on its OpenAI-compatible route:

- ours: ``python -m extmodels_integrations.gateway CONFIG --workers 2`` (a bearer token checked,
  no usage tracking or limits configured, access log lines at the default level);
- LiteLLM: ``litellm --config CONFIG --num_workers 2`` (master key checked, no database);
- MLflow: ``mlflow gateway start --config-path CONFIG --workers 2`` (gunicorn + uvicorn, no auth).

The peers run from their own venv (``make bench-gateway`` makes ``.venv-gateway-peers`` from the
``gateway-peers`` group of uv.lock); a peer whose command is missing is skipped and listed so.

**Added latency**: requests one at a time; each round sends a batch to every target in turn
(the provider directly too, in a rotated order) so the machine's drift hits all of them alike;
p50 / p99 of a target minus the same percentile straight to the provider. A streamed request's
latency runs to the stream's last byte. **Max requests/s**: ``--concurrency`` keep-alive
connections in a closed loop for ``--seconds``, one target at a time, best of the rounds. The
load generator is one asyncio process with a hand-rolled HTTP/1.1 client (cheaper per request
than httpx, so the gateways and not the client are what saturate); it shares the 2 cores with
the gateway under test and the provider, alike for all three.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KEY = "sk-bench-not-a-real-key"
TOKEN = "gw-bench-token"
LITELLM_KEY = "sk-bench-litellm-master"
# Where the peers' commands are (EXTMODELS_BENCH_PEERS overrides it: the smoke test points it
# at nothing to check that absent peers are skipped).
PEERS = Path(os.environ.get("EXTMODELS_BENCH_PEERS", ROOT / ".venv-gateway-peers" / "bin"))
BODY = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}


@dataclass
class Settings:
    rounds: int = 10
    batch: int = 100  # sequential requests per target per round (latency)
    concurrency: int = 64
    seconds: float = 4.0  # per throughput round
    throughput_rounds: int = 3

    @classmethod
    def smoke(cls) -> Settings:
        return cls(rounds=1, batch=5, concurrency=4, seconds=0.5, throughput_rounds=1)


@dataclass
class Target:
    name: str
    port: int
    path: str
    model: str
    auth: str | None = None
    version: str = ""
    requests: dict[bool, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for stream in (False, True):
            body = json.dumps({**BODY, "model": self.model, "stream": stream}).encode()
            head = [
                f"POST {self.path} HTTP/1.1",
                f"host: 127.0.0.1:{self.port}",
                "content-type: application/json",
                f"content-length: {len(body)}",
            ]
            if self.auth:
                head.append(f"authorization: Bearer {self.auth}")
            self.requests[stream] = ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------- the HTTP/1.1 client
class HTTPStatusError(Exception):
    def __init__(self, name: str, status: int) -> None:
        super().__init__(f"{name}: HTTP {status}")
        self.status = status


class Connection:
    """One keep-alive connection that sends prebuilt requests and reads whole responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def send(self, request: bytes) -> int:
        """Send ``request``, read the whole response; its status."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked, close = None, False, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value:
                chunked = True
            elif name == b"connection" and value == b"close":
                close = True
        if chunked:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length is not None:
            await self.reader.readexactly(length)
        else:
            await self.reader.read()  # the body runs to the connection's end
            close = True
        if close:
            raise ConnectionResetError("the server closed the connection")
        return status

    def close(self) -> None:
        self.writer.close()


async def _latencies(target: Target, stream: bool, count: int) -> list[float]:
    conn = await Connection.open(target.port)
    request, times = target.requests[stream], []
    try:
        for _ in range(count):
            start = time.perf_counter()
            status = await conn.send(request)
            times.append(time.perf_counter() - start)
            if status != 200:
                raise HTTPStatusError(target.name, status)
    finally:
        conn.close()
    return times


async def _throughput(target: Target, stream: bool, concurrency: int, seconds: float) -> float:
    request, done, errors = target.requests[stream], [0], [0]
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        conn = await Connection.open(target.port)
        try:
            while time.perf_counter() < deadline:
                try:
                    ok = await conn.send(request) == 200
                except (ConnectionError, asyncio.IncompleteReadError):
                    conn.close()
                    conn = await Connection.open(target.port)
                    ok = False
                done[0] += ok
                errors[0] += not ok
        finally:
            conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if errors[0] > done[0] * 0.01:
        raise RuntimeError(f"{target.name}: {errors[0]} failed requests of {sum(done + errors)}")
    return done[0] / (time.perf_counter() - start)


# ------------------------------------------------------------------------------ the servers
def _wait_ready(
    target: Target, process: subprocess.Popen[bytes], log: Path, seconds: float
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{target.name} exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            asyncio.run(_latencies(target, False, 1))
            asyncio.run(_latencies(target, True, 1))
            return
        except HTTPStatusError as exc:
            if exc.status < 500:  # a wrong config or key: waiting will not help
                raise RuntimeError(f"{target.name}: {exc}\n{log.read_text()[-3000:]}") from None
            time.sleep(0.3)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            time.sleep(0.3)
    raise RuntimeError(f"{target.name} not ready after {seconds} s:\n{log.read_text()[-3000:]}")


@contextmanager
def _process(
    target: Target, command: list[str], directory: Path, env: dict[str, str], seconds: float
) -> Iterator[Target]:
    log = directory / f"{target.name.split()[0].lower()}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=directory,
            stdout=sink,
            stderr=sink,
            env={**os.environ, **env},
            start_new_session=True,
        )
    try:
        _wait_ready(target, process, log, seconds)
        yield target
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def _version(executable: Path, dist: str) -> str:
    python = executable.parent / "python"
    code = f"from importlib.metadata import version; print(version({dist!r}))"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "?"


def start_ours(stack: ExitStack, provider: int, directory: Path) -> Target:
    config = {
        "name": "bench",
        "config": {
            "served_entities": [
                {
                    "name": "bench",
                    "external_model": {
                        "name": "bench",
                        "provider": "openai",
                        "task": "llm/v1/chat",
                        "openai_config": {
                            "openai_api_key": "{{secrets/bench/openai}}",
                            "openai_api_base": f"http://127.0.0.1:{provider}/v1",
                        },
                    },
                }
            ]
        },
    }
    (directory / "ours.json").write_text(json.dumps(config))
    (directory / "tokens.json").write_text(
        json.dumps({"tokens": [{"token": TOKEN, "user": "bench"}]})
    )
    port = _free_port()
    route = "/serving-endpoints/chat/completions"
    target = Target("extmodels serve (ours)", port, route, "bench", TOKEN, "this checkout")
    command = [
        sys.executable, "-m", "extmodels_integrations.gateway", "ours.json",
        "--tokens", "tokens.json", "--store", f"sqlite:///{directory}/usage.db",
        "--workers", "2", "--port", str(port),
    ]  # fmt: skip
    env = {"EXTMODELS_SECRET__BENCH__OPENAI": KEY, "PYTHONPATH": str(ROOT)}
    return stack.enter_context(_process(target, command, directory, env, 60))


def start_litellm(stack: ExitStack, provider: int, directory: Path) -> Target:
    config = (
        "model_list:\n"
        "  - model_name: bench\n"
        "    litellm_params:\n"
        "      model: openai/bench\n"
        f"      api_base: http://127.0.0.1:{provider}/v1\n"
        "      api_key: os.environ/BENCH_PROVIDER_KEY\n"
        "general_settings:\n"
        "  master_key: os.environ/BENCH_LITELLM_KEY\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
    )
    (directory / "litellm.yaml").write_text(config)
    port = _free_port()
    version = _version(PEERS / "litellm", "litellm")
    target = Target("LiteLLM proxy", port, "/v1/chat/completions", "bench", LITELLM_KEY, version)
    command = [
        str(PEERS / "litellm"), "--config", "litellm.yaml", "--host", "127.0.0.1",
        "--port", str(port), "--num_workers", "2",
    ]  # fmt: skip
    env = {
        "BENCH_PROVIDER_KEY": KEY,
        "BENCH_LITELLM_KEY": LITELLM_KEY,
        # No network here: the bundled model-cost map, not the one LiteLLM would download.
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
    }
    return stack.enter_context(_process(target, command, directory, env, 180))


def start_mlflow(stack: ExitStack, provider: int, directory: Path) -> Target:
    config = (
        "endpoints:\n"
        "  - name: bench\n"
        "    endpoint_type: llm/v1/chat\n"
        "    model:\n"
        "      provider: openai\n"
        "      name: bench\n"
        "      config:\n"
        "        openai_api_key: $BENCH_PROVIDER_KEY\n"
        f"        openai_api_base: http://127.0.0.1:{provider}/v1\n"
    )
    (directory / "mlflow.yaml").write_text(config)
    port = _free_port()
    version = _version(PEERS / "mlflow", "mlflow")
    target = Target("MLflow gateway", port, "/v1/chat/completions", "bench", None, version)
    command = [
        str(PEERS / "mlflow"), "gateway", "start", "--config-path", "mlflow.yaml",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
    ]  # fmt: skip
    env = {"BENCH_PROVIDER_KEY": KEY}
    return stack.enter_context(_process(target, command, directory, env, 120))


STARTERS = {
    "ours": (start_ours, None),
    "litellm": (start_litellm, PEERS / "litellm"),
    "mlflow": (start_mlflow, PEERS / "mlflow"),
}


@contextmanager
def provider() -> Iterator[int]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, str(HERE / "_server.py"), str(port)], stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == b"ready"
        yield port
    finally:
        process.kill()
        process.wait(10)


# ------------------------------------------------------------------------------- measuring
def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(targets: list[Target], direct: Target, settings: Settings) -> dict[str, dict]:
    """Added latency (p50, p99 in ms) and max requests/s per target, plain and streamed."""
    results: dict[str, dict] = {t.name: {} for t in targets}
    everyone = [direct, *targets]
    for stream in (False, True):
        kind = "streamed" if stream else "plain"
        times: dict[str, list[float]] = {t.name: [] for t in everyone}
        for r in range(settings.rounds):
            order = everyone[r % len(everyone) :] + everyone[: r % len(everyone)]
            for target in order:
                times[target.name] += asyncio.run(_latencies(target, stream, settings.batch))
        base = {q: _percentile(times[direct.name], q) for q in (0.5, 0.99)}
        results.setdefault(direct.name, {})[kind] = {
            "p50": base[0.5] * 1000,
            "p99": base[0.99] * 1000,
        }
        for target in targets:
            results[target.name][kind] = {
                f"added_p{int(q * 100)}": (_percentile(times[target.name], q) - base[q]) * 1000
                for q in (0.5, 0.99)
            }
        for target in targets:
            rates = [
                asyncio.run(_throughput(target, stream, settings.concurrency, settings.seconds))
                for _ in range(settings.throughput_rounds)
            ]
            results[target.name][kind]["rps"] = max(rates)
    return results


def report(results: dict[str, dict], targets: list[Target], skipped: list[str], s: Settings) -> str:
    ours = targets[0].name
    lines = [
        "# Gateway benchmark",
        "",
        f"`python benchmarks/gateway_bench.py` on {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}. "
        f"Latency: {s.rounds} rounds x {s.batch} sequential requests per target; "
        f"throughput: {s.concurrency} connections, best of {s.throughput_rounds} x "
        f"{s.seconds:g} s. Each gateway runs 2 workers.",
        "",
        "| gateway | version | kind | added p50 ms | added p99 ms | max req/s "
        "| p50 vs ours | req/s vs ours |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind in ("plain", "streamed"):
        mine = results[ours][kind]
        for target in targets:
            row = results[target.name][kind]
            lines.append(
                f"| {target.name} | {target.version} | {kind} | {row['added_p50']:.2f} "
                f"| {row['added_p99']:.2f} | {row['rps']:.0f} "
                f"| {row['added_p50'] / mine['added_p50']:.2f}x "
                f"| {row['rps'] / mine['rps']:.2f}x |"
            )
    direct = results["provider (direct)"]
    lines += [
        "",
        f"Provider straight, one request at a time: plain p50 {direct['plain']['p50']:.2f} ms, "
        f"p99 {direct['plain']['p99']:.2f} ms; streamed p50 {direct['streamed']['p50']:.2f} "
        f"ms, p99 {direct['streamed']['p99']:.2f} ms.",
    ]
    lines += [f"\nSkipped: {name}" for name in skipped]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few requests per case")
    parser.add_argument("--only", default="ours,litellm,mlflow", help="comma-separated gateways")
    parser.add_argument("--output", type=Path, default=None, help="write the Markdown here")
    args = parser.parse_args(argv)
    settings = Settings.smoke() if args.smoke else Settings()
    output = args.output or (None if args.smoke else HERE / "RESULTS-gateway.md")
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    skipped: list[str] = []
    with ExitStack() as stack, tempfile.TemporaryDirectory() as scratch:
        port = stack.enter_context(provider())
        direct = Target("provider (direct)", port, "/v1/chat/completions", "bench")
        targets = []
        for name in wanted:
            start, executable = STARTERS[name]
            if executable is not None and not executable.exists():
                skipped.append(f"{name}: {executable} missing (make bench-gateway installs it)")
                continue
            directory = Path(scratch) / name
            directory.mkdir()
            print(f">> starting {name}", file=sys.stderr, flush=True)
            targets.append(start(stack, port, directory))
        if not targets or targets[0].name != "extmodels serve (ours)":
            raise SystemExit("ours must be measured: ratios are against it")
        results = measure(targets, direct, settings)
    text = report(results, targets, skipped, settings)
    print(text)
    if output is not None:
        output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
