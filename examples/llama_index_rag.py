"""LlamaIndex RAG on your models: an index, a streaming query engine, a chat engine and an agent.

It needs a chat model and an embeddings model, each given one of two ways (the same ways the
classes take):

    # serving endpoints (Databricks Model Serving or anything speaking the unified schema)
    export DATABRICKS_HOST=https://<workspace> DATABRICKS_TOKEN=<token>
    python examples/llama_index_rag.py --endpoint <chat-endpoint> \\
        --embeddings-endpoint <embeddings-endpoint>

    # external_model blocks, called on the providers directly (see examples/*.json)
    export EXTMODELS_SECRET__DEMO__OPENAI=sk-...   # resolves {{secrets/demo/openai}}
    python examples/llama_index_rag.py --external-model examples/openai_chat.json \\
        --embeddings-external-model my_embeddings.json

The options also read EXTMODELS_ENDPOINT, EXTMODELS_EXTERNAL_MODEL,
EXTMODELS_EMBEDDINGS_ENDPOINT and EXTMODELS_EMBEDDINGS_EXTERNAL_MODEL from the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.tools import QueryEngineTool

from extmodels_integrations import ExternalModelError
from extmodels_integrations.llama_index import ChatExternal, ExternalEmbeddings

CORPUS = [
    "An external model endpoint gives one OpenAI-style schema for chat, completions and "
    "embeddings in front of many providers: OpenAI, Anthropic, Cohere, Bedrock and more.",
    "Secrets in an external_model block are written as {{secrets/scope/key}} references, so "
    "the same configuration runs locally and deploys unchanged.",
    "A traffic split routes each call to one served entity; rate limits and fallbacks apply "
    "per endpoint.",
]


def _target(parser: argparse.ArgumentParser, endpoint: str | None, path: str | None) -> Any:
    if path:
        with open(path, encoding="utf-8") as f:
            return {"external_model": json.load(f)}
    if endpoint:
        return {"endpoint": endpoint}
    parser.print_help()
    print(
        "\nNo model configured: pass --endpoint or --external-model, and "
        "--embeddings-endpoint or --embeddings-external-model (see above).",
        file=sys.stderr,
    )
    raise SystemExit(2)


def targets_from_args() -> tuple[dict[str, Any], dict[str, Any]]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    env = os.environ.get
    parser.add_argument("--endpoint", default=env("EXTMODELS_ENDPOINT"))
    parser.add_argument("--external-model", default=env("EXTMODELS_EXTERNAL_MODEL"))
    parser.add_argument("--embeddings-endpoint", default=env("EXTMODELS_EMBEDDINGS_ENDPOINT"))
    parser.add_argument(
        "--embeddings-external-model", default=env("EXTMODELS_EMBEDDINGS_EXTERNAL_MODEL")
    )
    args = parser.parse_args()
    chat = _target(parser, args.endpoint, args.external_model)
    embeddings = _target(parser, args.embeddings_endpoint, args.embeddings_external_model)
    return chat, embeddings


async def main() -> None:
    chat_target, embeddings_target = targets_from_args()
    # Engines hand their callback manager to the LLM, so handlers go on Settings.
    tokens = TokenCountingHandler()
    Settings.callback_manager = CallbackManager([tokens])
    llm = ChatExternal(**chat_target, temperature=0.2)
    embed_model = ExternalEmbeddings(**embeddings_target)
    print(f"model: {llm.model} via {llm.client.provider}, window {llm.metadata.context_window}")

    index = VectorStoreIndex.from_documents(
        [Document(text=text) for text in CORPUS], embed_model=embed_model
    )

    engine = index.as_query_engine(llm=llm, streaming=True, similarity_top_k=2)
    response = engine.query("How are secrets written in an external model configuration?")
    print("answer: ", end="")
    for token in response.response_gen:
        print(token, end="", flush=True)
    print("\nsources:", [n.node.get_content()[:40] + "..." for n in response.source_nodes])

    chat = index.as_chat_engine(chat_mode="condense_plus_context", llm=llm)
    print("chat:", (await chat.achat("Which providers can sit behind one endpoint?")).response)

    agent = FunctionAgent(
        tools=[
            QueryEngineTool.from_defaults(
                index.as_query_engine(llm=llm),
                name="knowledge_base",
                description="Answers questions about external model endpoints.",
            )
        ],
        llm=llm,
    )
    result = await agent.run(user_msg="Ask the knowledge_base how traffic is routed.")
    print("agent:", result.response.content)
    print(f"tokens: {tokens.prompt_llm_token_count} in, {tokens.completion_llm_token_count} out")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except ExternalModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
