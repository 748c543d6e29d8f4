"""The context window of a model the table does not know comes from what its server states
(llama.cpp's ``/props``, vLLM's ``max_model_len`` and the like in ``/v1/models``), asked once;
a server that states nothing, or cannot be reached, leaves the documented 8192."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from extmodels_integrations import ExternalClient
from extmodels_integrations.llama_index import ChatExternal, CompletionExternal
from extmodels_integrations.providers._served_limits import read_context_window
from extmodels_integrations.providers.openai import OpenAIAdapter
from tests.support.openai_server import OpenAIStubServer

MODEL = "SmolLM2-135M-Instruct"


class StatingServer(OpenAIStubServer):
    """Answers the GETs a real server answers with its limits: ``props`` and/or ``models``."""

    def __init__(self, props: Any = None, models: Any = None) -> None:
        super().__init__()
        self.answers = {"/props": props, "/v1/models": models}
        self.gets: list[str] = []

    def _dispatch(
        self, method: str, path: str, headers: dict[str, str], body: Any, extra: dict[str, str]
    ) -> tuple[bytes | list[bytes], dict[str, str]]:
        if method == "GET":
            self.gets.append(path)
            if self.answers.get(path) is not None:
                return json.dumps(self.answers[path]).encode(), extra
        return super()._dispatch(method, path, headers, body, extra)


def _chat(server: OpenAIStubServer, model: str = MODEL, **options: Any) -> ChatExternal:
    return ChatExternal(
        external_model={
            "name": model,
            "provider": "openai",
            "task": "llm/v1/chat",
            "openai_config": {
                "openai_api_key_plaintext": "sk-local",
                "openai_api_base": f"{server.base_url}/v1",
            },
        },
        **options,
    )


@pytest.fixture
def llama_cpp() -> Iterator[StatingServer]:
    props = {"default_generation_settings": {"n_ctx": 4096}, "total_slots": 1}
    models = {"object": "list", "data": [{"id": "m.gguf", "meta": {"n_ctx_train": 8192}}]}
    with StatingServer(props=props, models=models) as server:
        yield server


def test_llama_cpp_states_its_served_window_once(llama_cpp: StatingServer) -> None:
    chat = _chat(llama_cpp)
    for _ in range(5):
        assert chat.metadata.context_window == 4096
    assert chat.metadata.num_output == 1024  # a quarter of the window
    assert llama_cpp.gets == ["/props"]
    assert chat.chat([_user("hi")]).message.content  # the calls are unchanged


def test_vllm_states_max_model_len_in_models() -> None:
    models = {"data": [{"id": "other"}, {"id": MODEL, "max_model_len": 32768}]}
    with StatingServer(models=models) as server:
        chat = _chat(server)
        assert chat.metadata.context_window == 32768
        assert server.gets == ["/props", "/v1/models"]


def test_a_completion_model_reads_it_too(llama_cpp: StatingServer) -> None:
    llm = CompletionExternal(
        external_model={
            "name": MODEL,
            "provider": "openai",
            "task": "llm/v1/completions",
            "openai_config": {
                "openai_api_key_plaintext": "sk-local",
                "openai_api_base": f"{llama_cpp.base_url}/v1",
            },
        }
    )
    assert llm.metadata.context_window == 4096


def test_a_server_that_states_nothing_leaves_the_default_asked_once() -> None:
    with StatingServer() as server:  # both GETs answered 404, as most servers do
        chat = _chat(server)
        assert chat.metadata.context_window == 8192
        assert chat.metadata.context_window == 8192
        assert chat.client.reported_context_window() is None
        assert server.gets == ["/props", "/v1/models"]


def test_an_unreachable_server_leaves_the_default_and_the_call_raises() -> None:
    with OpenAIStubServer() as gone:
        chat = _chat(gone, max_retries=0)
    assert chat.metadata.context_window == 8192
    with pytest.raises(Exception, match="onnect"):
        chat.chat([_user("hi")])


def test_a_stated_or_known_window_is_never_asked(llama_cpp: StatingServer) -> None:
    assert _chat(llama_cpp, context_window=2048).metadata.context_window == 2048
    assert _chat(llama_cpp, model="gpt-4o-mini").metadata.context_window == 128_000
    assert llama_cpp.gets == []


def test_an_endpoint_config_takes_the_smallest_when_every_entity_states_one() -> None:
    small = {"default_generation_settings": {"n_ctx": 2048}}
    large = {"default_generation_settings": {"n_ctx": 16384}}
    with StatingServer(props=small) as a, StatingServer(props=large) as b, OpenAIStubServer() as c:
        assert _split(a, b).reported_context_window() == 2048
        assert _split(a, c).reported_context_window() is None


def _split(*servers: OpenAIStubServer) -> ExternalClient:
    entities = [
        {
            "name": f"e{i}",
            "external_model": {
                "name": MODEL,
                "provider": "openai",
                "task": "llm/v1/chat",
                "openai_config": {
                    "openai_api_key_plaintext": "sk-local",
                    "openai_api_base": f"{s.base_url}/v1",
                },
            },
        }
        for i, s in enumerate(servers)
    ]
    share = 100 // len(servers)
    routes = [{"served_model_name": e["name"], "traffic_percentage": share} for e in entities]
    routes[0]["traffic_percentage"] += 100 - share * len(servers)
    return ExternalClient(
        endpoint_config={
            "name": "split",
            "config": {"served_entities": entities, "traffic_config": {"routes": routes}},
        }
    )


def _user(text: str) -> Any:
    from llama_index.core.base.llms.types import ChatMessage

    return ChatMessage(role="user", content=text)


@pytest.mark.parametrize(
    ("answer", "window"),
    [
        ({"default_generation_settings": {"n_ctx": 4096}}, 4096),
        ({"n_ctx": 1024}, 1024),
        ({"data": [{"id": MODEL, "max_model_len": 32768}]}, 32768),
        ({"data": [{"id": MODEL, "context_length": 131072}]}, 131072),
        ({"data": [{"id": MODEL, "context_window": 8000}]}, 8000),
        ({"data": [{"id": "alias", "meta": {"n_ctx_train": 2048}}]}, 2048),
        ({"data": [{"id": "a", "max_model_len": 1}, {"id": "b", "max_model_len": 2}]}, None),
        ({"data": [{"id": MODEL, "owned_by": "me", "permissions": []}]}, None),  # llama-cpp-python
        ({"data": [{"id": MODEL, "max_model_len": True}]}, None),
        ({"data": [{"id": MODEL, "max_model_len": -5}]}, None),
        ({"data": "nope"}, None),
        ([1, 2], None),
        ({"default_generation_settings": {"n_ctx": "4096"}}, None),
    ],
)
def test_each_servers_shape_is_read(answer: Any, window: int | None) -> None:
    assert read_context_window(answer, MODEL) == window


def test_openai_and_azure_are_not_asked() -> None:
    from extmodels_integrations._auth import StaticAuth

    auth = StaticAuth({})
    assert OpenAIAdapter(model="m", task=None, auth=auth).context_window_requests() == ()
    azure = OpenAIAdapter(
        model="m", task=None, auth=auth, api_base="https://x.openai.azure.com", api_type="azure"
    )
    assert azure.context_window_requests() == ()
    local = OpenAIAdapter(model="m", task=None, auth=auth, api_base="http://127.0.0.1:8/v1")
    assert [r.url for r in local.context_window_requests()] == [
        "http://127.0.0.1:8/props",
        "http://127.0.0.1:8/v1/models",
    ]
