"""Anthropic (Messages API) as an ``external_model``. Anthropic has no embeddings API.

export ANTHROPIC_API_KEY=sk-ant-...
python examples/targets/anthropic_messages.py      # ANTHROPIC_MODEL
"""

from __future__ import annotations

from _common import options, resolver, run, settings

from extmodels_integrations.langchain import ChatExternal

args = options(__doc__)
env = settings(
    {"ANTHROPIC_API_KEY": "your Anthropic API key"},
    {"ANTHROPIC_MODEL": "claude-3-5-haiku-latest"},
)
config = {"anthropic_api_key": "{{secrets/demo/anthropic}}"}
if args.api_base:
    config["anthropic_api_base"] = args.api_base

chat = ChatExternal(
    max_tokens=100,
    secret_resolver=resolver({"anthropic": env["ANTHROPIC_API_KEY"]}),
    external_model={
        "name": env["ANTHROPIC_MODEL"],
        "provider": "anthropic",
        "task": "llm/v1/chat",
        "anthropic_config": config,
    },
)
run(chat)
