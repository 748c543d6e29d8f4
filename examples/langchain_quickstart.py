"""LangChain quickstart: a streaming chain, a tool call and structured output on your model.

Point it at a model in one of two ways (the same ways the classes take):

    # a serving endpoint (Databricks Model Serving or anything speaking the unified schema)
    export DATABRICKS_HOST=https://<workspace> DATABRICKS_TOKEN=<token>
    python examples/langchain_quickstart.py --endpoint <endpoint-name>

    # an external_model block, called on the provider directly (see examples/*.json)
    export EXTMODELS_SECRET__DEMO__OPENAI=sk-...   # resolves {{secrets/demo/openai}}
    python examples/langchain_quickstart.py --external-model examples/openai_chat.json

Both also read EXTMODELS_ENDPOINT / EXTMODELS_EXTERNAL_MODEL from the environment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from langchain_core.messages import AIMessageChunk
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from extmodels_integrations import ExternalModelError
from extmodels_integrations.langchain import ChatExternal


class Answer(BaseModel):
    """A short answer with a confidence."""

    answer: str = Field(description="one-sentence answer")
    confidence: float = Field(description="0 to 1")


@tool
def word_count(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())


def target_from_args() -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--endpoint", default=os.environ.get("EXTMODELS_ENDPOINT"))
    parser.add_argument("--external-model", default=os.environ.get("EXTMODELS_EXTERNAL_MODEL"))
    args = parser.parse_args()
    if args.external_model:
        with open(args.external_model, encoding="utf-8") as f:
            return {"external_model": json.load(f)}
    if args.endpoint:
        return {"endpoint": args.endpoint}
    parser.print_help()
    print(
        "\nNo model configured: pass --endpoint or --external-model (see above).", file=sys.stderr
    )
    raise SystemExit(2)


def main() -> None:
    llm = ChatExternal(**target_from_args(), temperature=0.2, max_tokens=300)
    print(f"model: {llm.model} via {llm.client.provider}\n")

    chain = (
        ChatPromptTemplate.from_messages(
            [("system", "You are concise."), ("user", "Explain {topic} in two sentences.")]
        )
        | llm
    )
    usage: AIMessageChunk | None = None
    for chunk in chain.stream({"topic": "external model endpoints"}):
        print(chunk.content, end="", flush=True)
        usage = chunk if usage is None else usage + chunk
    print("\n")

    call = llm.bind_tools([word_count], tool_choice="word_count").invoke(
        "How many words are in 'the quick brown fox'?"
    )
    print("tool calls:", call.tool_calls)

    structured = llm.with_structured_output(Answer).invoke("What is the capital of France?")
    print("structured:", structured)

    if usage is not None and usage.usage_metadata:
        print("streamed usage:", usage.usage_metadata)


if __name__ == "__main__":
    try:
        main()
    except ExternalModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
