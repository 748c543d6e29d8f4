"""What the per-target scripts share: settings and keys from the environment, one streamed
answer with its usage, and one embedding. Each script is run as is, e.g.
``python examples/targets/anthropic_messages.py``; ``--api-base`` sends its requests to a
proxy or gateway in front of the provider instead (the tests use it with a loopback stub)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessageChunk

from extmodels_integrations import ExternalModelError

SecretResolver = Callable[[str, str], "str | None"]
QUESTION = "In one sentence: what is an external model endpoint?"


def options(doc: str | None) -> argparse.Namespace:
    """``--api-base`` (and ``--help`` showing the script's docstring)."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--api-base", help="send requests here instead of the provider's URL")
    return parser.parse_args()


def settings(required: dict[str, str], optional: dict[str, str] | None = None) -> dict[str, str]:
    """Environment variables by name; exits naming every missing required one and what it is.

    ``required`` and ``optional`` map a variable's name to its description (optional ones
    to their default)."""
    missing = [f"  {name}  {what}" for name, what in required.items() if not os.environ.get(name)]
    if missing:
        script = os.path.basename(sys.argv[0])
        print(f"{script} needs these environment variables:", *missing, sep="\n", file=sys.stderr)
        raise SystemExit(2)
    found = {name: os.environ[name] for name in required}
    for name, default in (optional or {}).items():
        found[name] = os.environ.get(name) or default
    return found


def resolver(secrets: dict[str, str]) -> SecretResolver:
    """Resolves ``{{secrets/demo/<key>}}`` to the value given for ``key``: the blocks keep
    secret references, exactly as they would deploy, and the values come from your shell."""
    return lambda scope, key: secrets.get(key) if scope == "demo" else None


def run(chat: Any, embeddings: Any = None) -> None:
    """Stream one answer from ``chat``, print its usage, then embed one text."""
    try:
        print(f"chat model: {chat.model} via {chat.client.provider}")
        merged: AIMessageChunk | None = None
        for chunk in chat.stream(QUESTION):
            print(chunk.content, end="", flush=True)
            merged = chunk if merged is None else merged + chunk
        print(f"\nusage: {merged.usage_metadata if merged is not None else None}")
        if embeddings is not None:
            vector = embeddings.embed_query("external model endpoints")
            print(f"embeddings: {embeddings.model} -> {len(vector)} dimensions")
    except ExternalModelError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
