"""Google Cloud Vertex AI (Gemini chat, text embeddings) as an ``external_model``, signed in
with a service-account key file (needs the ``vertex`` extra:
``pip install "extmodels-integrations[vertex]"``).

    export GOOGLE_APPLICATION_CREDENTIALS=key.json GOOGLE_CLOUD_PROJECT=my-project
    python examples/targets/vertex_ai.py   # GOOGLE_CLOUD_REGION, VERTEX_CHAT_MODEL, ...
"""

from __future__ import annotations

from pathlib import Path

from _common import options, resolver, run, settings

from extmodels_integrations.langchain import ChatExternal, ExternalEmbeddings

args = options(__doc__)
env = settings(
    {
        "GOOGLE_APPLICATION_CREDENTIALS": "path to a service-account key file (JSON)",
        "GOOGLE_CLOUD_PROJECT": "the project id",
    },
    {
        "GOOGLE_CLOUD_REGION": "us-central1",
        "VERTEX_CHAT_MODEL": "gemini-2.0-flash",
        "VERTEX_EMBEDDINGS_MODEL": "text-embedding-005",
    },
)
# private_key takes the whole service-account JSON, as the service's own config does.
key_file = Path(env["GOOGLE_APPLICATION_CREDENTIALS"]).read_text(encoding="utf-8")
secrets = resolver({"vertex": key_file})


def block(name: str, task: str) -> dict[str, object]:
    config = {
        "project_id": env["GOOGLE_CLOUD_PROJECT"],
        "region": env["GOOGLE_CLOUD_REGION"],
        "private_key": "{{secrets/demo/vertex}}",
    }
    if args.api_base:
        config["vertex_api_base"] = args.api_base
    return {
        "name": name,
        "provider": "google-cloud-vertex-ai",
        "task": task,
        "google_cloud_vertex_ai_config": config,
    }


chat = ChatExternal(
    max_tokens=100,
    secret_resolver=secrets,
    external_model=block(env["VERTEX_CHAT_MODEL"], "llm/v1/chat"),
)
embeddings = ExternalEmbeddings(
    secret_resolver=secrets,
    external_model=block(env["VERTEX_EMBEDDINGS_MODEL"], "llm/v1/embeddings"),
)
run(chat, embeddings)
