"""Run a serving-endpoint config locally, exactly as it would deploy: two providers, a 70/30
traffic split and a rate limit (examples/endpoint_config.json), from LangChain and LlamaIndex.

    export EXTMODELS_SECRET__DEMO__OPENAI=sk-...        # resolves {{secrets/demo/openai}}
    export EXTMODELS_SECRET__DEMO__DATABRICKS=dapi...   # resolves {{secrets/demo/databricks}}
    python examples/endpoint_config_demo.py [--config examples/endpoint_config.json]

To try it without any account, point every served entity at one local OpenAI-compatible server
(the file itself is left untouched, so the same file still creates the real endpoint):

    python examples/endpoint_config_demo.py --local-base http://127.0.0.1:8000

``--local-base`` (or ``EXTMODELS_DEMO_BASE``) replaces each ``openai`` entity's
``openai_api_base`` with ``<base>/v1``. A ``databricks-model-serving`` entity speaks the same
OpenAI-style schema, but at ``/serving-endpoints/<name>/invocations``, a route an
OpenAI-compatible server (llama.cpp's, vLLM's, ...) does not have: it is served as an ``openai``
entity at ``<base>/v1`` instead, with the same name, traffic share and token, and the demo says
so. Other providers' APIs cannot be served that way, so a config with one is refused. Later,
send the same JSON file to the serving-endpoints create API to make the real endpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from extmodels_integrations import ExternalModelError
from extmodels_integrations.langchain import ChatExternal

HERE = Path(__file__).resolve().parent


# A serving endpoint's token becomes the key sent to the local server, so each served entity
# still sends its own credential.
_TOKEN_TO_KEY = {
    "databricks_api_token": "openai_api_key",
    "databricks_api_token_plaintext": "openai_api_key_plaintext",
}


def load_body(path: str, local_base: str | None) -> dict[str, Any]:
    """The body from ``path``, every served entity pointed at the OpenAI-compatible server at
    ``local_base`` when given (see the module docstring)."""
    body: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    if not local_base:
        return body
    api_base = f"{local_base.rstrip('/')}/v1"
    for entity in body["config"]["served_entities"]:
        model = entity["external_model"]
        provider = model.get("provider")
        if provider == "databricks-model-serving":
            token = model.pop("databricks_model_serving_config")
            model["provider"] = "openai"
            model["openai_config"] = {
                _TOKEN_TO_KEY[k]: v for k, v in token.items() if k in _TOKEN_TO_KEY
            }
            print(
                f"note: {entity['name']} (databricks-model-serving) is served as an openai entity "
                f"at {api_base}: an OpenAI-compatible server has no "
                f"/serving-endpoints/{model['name']}/invocations route"
            )
        elif (
            provider != "openai"
            or model["openai_config"].get("openai_api_type", "openai") != "openai"
        ):
            raise SystemExit(
                f"--local-base: served entity {entity['name']!r} ({provider}) cannot be served by "
                "an OpenAI-compatible server; run without --local-base, or give a --config "
                "without it"
            )
        model["openai_config"]["openai_api_base"] = api_base
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
