"""Amazon Bedrock as an ``external_model``: Claude for chat, Titan for embeddings (needs the
``bedrock`` extra: ``pip install "extmodels-integrations[bedrock]"``).

    export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... AWS_REGION=us-east-1
    python examples/targets/amazon_bedrock.py   # AWS_SESSION_TOKEN, BEDROCK_CHAT_MODEL, ...
"""

from __future__ import annotations

from _common import options, resolver, run, settings

from extmodels_integrations.langchain import ChatExternal, ExternalEmbeddings

args = options(__doc__)
env = settings(
    {
        "AWS_ACCESS_KEY_ID": "an access key with bedrock:InvokeModel",
        "AWS_SECRET_ACCESS_KEY": "its secret",
        "AWS_REGION": "the region the models are enabled in, e.g. us-east-1",
    },
    {
        "AWS_SESSION_TOKEN": "",
        "BEDROCK_CHAT_MODEL": "anthropic.claude-3-5-haiku-20241022-v1:0",
        "BEDROCK_EMBEDDINGS_MODEL": "amazon.titan-embed-text-v2:0",
    },
)
secrets = resolver(
    {
        "aws_key": env["AWS_ACCESS_KEY_ID"],
        "aws_secret": env["AWS_SECRET_ACCESS_KEY"],
        "aws_session": env["AWS_SESSION_TOKEN"],
    }
)


def block(name: str, task: str) -> dict[str, object]:
    config = {
        "aws_region": env["AWS_REGION"],
        # The model id's prefix names the vendor whose request format Bedrock expects.
        "bedrock_provider": name.split(".")[0],
        "aws_access_key_id": "{{secrets/demo/aws_key}}",
        "aws_secret_access_key": "{{secrets/demo/aws_secret}}",
    }
    if env["AWS_SESSION_TOKEN"]:
        config["aws_session_token"] = "{{secrets/demo/aws_session}}"
    if args.api_base:
        config["bedrock_api_base"] = args.api_base
    return {
        "name": name,
        "provider": "amazon-bedrock",
        "task": task,
        "amazon_bedrock_config": config,
    }


chat = ChatExternal(
    max_tokens=100,
    secret_resolver=secrets,
    external_model=block(env["BEDROCK_CHAT_MODEL"], "llm/v1/chat"),
)
embeddings = ExternalEmbeddings(
    secret_resolver=secrets,
    external_model=block(env["BEDROCK_EMBEDDINGS_MODEL"], "llm/v1/embeddings"),
)
run(chat, embeddings)
