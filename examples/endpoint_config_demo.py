"""Run a serving-endpoint config locally, exactly as it would deploy: two providers, a 70/30
traffic split and a rate limit (examples/endpoint_config.json), from LangChain and LlamaIndex.

    export EXTMODELS_SECRET__DEMO__OPENAI=sk-...        # resolves {{secrets/demo/openai}}
    export EXTMODELS_SECRET__DEMO__DATABRICKS=dapi...   # resolves {{secrets/demo/databricks}}
    python examples/endpoint_config_demo.py [--config examples/endpoint_config.json]

To try it without any account, point every served entity at one local OpenAI-compatible server
(the file itself is left untouched, so the same file still creates the real endpoint):

    python examples/endpoint_config_demo.py --local-base http://127.0.0.1:8000

``--local-base`` (or ``EXTMODELS_DEMO_BASE``) replaces ``openai_api_base`` with ``<base>/v1``
and ``databricks_workspace_url`` with ``<base>``. Later, send the same JSON file to the
serving-endpoints create API to make the real endpoint.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from extmodels_integrations import ExternalModelError
from extmodels_integrations.langchain import ChatExternal

HERE = Path(__file__).resolve().parent


def load_body(path: str, local_base: str | None) -> dict[str, Any]:
    """The body from ``path``, every served entity pointed at ``local_base`` when given."""
    body: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    if not local_base:
        return body
    body = copy.deepcopy(body)
    base = local_base.rstrip("/")
    for entity in body["config"]["served_entities"]:
        model = entity["external_model"]
        if "openai_config" in model:
            model["openai_config"]["openai_api_base"] = f"{base}/v1"
        if "databricks_model_serving_config" in model:
            model["databricks_model_serving_config"]["databricks_workspace_url"] = base
    return body


def langchain_demo(body: dict[str, Any], calls: int, seed: int | None) -> None:
    llm = ChatExternal(endpoint_config=body, max_tokens=60, routing_seed=seed)
    print(f"LangChain: endpoint {llm.model} via {llm.client.provider}")
    answered = Counter(
        llm.invoke(f"Say hello #{i}").response_metadata["served_entity"] for i in range(calls)
    )
    print(f"  {calls} calls answered by: {dict(sorted(answered.items()))}")
    last = None
    for chunk in llm.stream("Explain traffic splitting in one sentence."):
        print(chunk.content, end="", flush=True)
        last = chunk
    if last is not None:
        meta = last.response_metadata
        print(f"\n  streamed by {meta['served_entity']} ({meta['served_entity_provider']})")


def llama_index_demo(body: dict[str, Any]) -> None:
    try:
        from llama_index.core.llms import ChatMessage

        from extmodels_integrations.llama_index import ChatExternal as LlamaChat
    except ImportError:
        print('LlamaIndex: skipped (pip install "extmodels-integrations[llama-index]")')
        return
    llm = LlamaChat(endpoint_config=body, max_tokens=60)
    response = llm.chat([ChatMessage(role="user", content="Say hello from LlamaIndex.")])
    routing = response.raw["metadata"] if response.raw else {}
    print(f"LlamaIndex: {response.message.content}")
    print(f"  answered by {routing.get('served_entity')} ({routing.get('served_entity_provider')})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default=str(HERE / "endpoint_config.json"))
    parser.add_argument("--local-base", default=os.environ.get("EXTMODELS_DEMO_BASE"))
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--seed", type=int, help="repeat the same traffic split on every run")
    args = parser.parse_args()
    body = load_body(args.config, args.local_base)
    langchain_demo(body, args.calls, args.seed)
    llama_index_demo(body)


if __name__ == "__main__":
    try:
        main()
    except ExternalModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
