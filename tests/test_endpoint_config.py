"""Endpoint-config validation: one test per service rule, each asserting the path and the fix."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from extmodels_integrations import ConfigurationError, ExternalClient, load_endpoint_config

CANARY = "sk-canary-endpoint-config-0123456789"


def _openai(name: str = "gpt-4o-mini", task: str = "llm/v1/chat") -> dict[str, Any]:
    return {
        "name": name,
        "provider": "openai",
        "task": task,
        "openai_config": {"openai_api_key_plaintext": CANARY},
    }


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "my-endpoint",
        "config": {
            "served_entities": [
                {"name": "a", "external_model": _openai()},
                {"name": "b", "external_model": _openai("gpt-4o")},
            ],
            "traffic_config": {
                "routes": [
                    {"served_model_name": "a", "traffic_percentage": 70},
                    {"served_model_name": "b", "traffic_percentage": 30},
                ]
            },
        },
        "rate_limits": [{"calls": 100, "key": "user", "renewal_period": "minute"}],
        "tags": [{"key": "team", "value": "search"}],
    }
    body.update(overrides)
    return body


def _error(body: Any) -> str:
    with pytest.raises(ConfigurationError) as info:
        load_endpoint_config(body)
    message = str(info.value)
    assert CANARY not in message
    return message


def test_a_valid_body_gives_entities_shares_and_limits() -> None:
    config = load_endpoint_config(_body())
    assert config.name == "my-endpoint"
    assert [(e.name, e.traffic_percentage) for e in config.served_entities] == [
        ("a", 70),
        ("b", 30),
    ]
    assert [(r.calls, r.key, r.seconds) for r in config.rate_limits] == [(100, "user", 60.0)]
    assert config.task == "llm/v1/chat"
    assert not config.fallbacks
    assert CANARY not in repr(config)


def test_at_least_one_served_entity() -> None:
    body = _body(config={"served_entities": []})
    assert _error(body) == (
        "Invalid endpoint_config: endpoint_config.config.served_entities: at least one served "
        "entity is required: add one with an external_model block"
    )


def test_external_models_cannot_be_mixed_with_other_kinds() -> None:
    body = _body()
    body["config"]["served_entities"][1] = {
        "name": "b",
        "entity_name": "main.models.churn",
        "entity_version": "3",
        "workload_size": "Small",
        "scale_to_zero_enabled": True,
    }
    assert "endpoint_config.config.served_entities[1]: has no external_model, but " in _error(body)
    assert "cannot serve other kinds of entities; move this one to another endpoint" in _error(body)


def test_external_model_excludes_registered_model_fields() -> None:
    body = _body()
    body["config"]["served_entities"][0]["workload_size"] = "Small"
    assert (
        "endpoint_config.config.served_entities[0].workload_size: cannot be combined with "
        "external_model (it is for registered models): remove it"
    ) in _error(body)


def test_registered_models_only_do_not_run_locally() -> None:
    body = _body(config={"served_entities": [{"entity_name": "m", "entity_version": "1"}]})
    assert "no served entity has an external_model: only external models run locally" in _error(
        body
    )


def test_several_external_models_need_a_traffic_config() -> None:
    body = _body()
    del body["config"]["traffic_config"]
    assert _error(body) == (
        "Invalid endpoint_config: endpoint_config.config.traffic_config: required when an "
        "endpoint serves several external models: add routes giving each served entity a "
        "traffic_percentage (they must add up to 100)"
    )


def test_one_external_model_needs_no_traffic_config() -> None:
    body = _body(config={"served_entities": [{"external_model": _openai("gpt-4o:2024")}]})
    (entity,) = load_endpoint_config(body).served_entities
    # The service's default name: external_model.name with '.' and ':' replaced by '-'.
    assert (entity.name, entity.traffic_percentage) == ("gpt-4o-2024", 100)


def test_routes_must_name_existing_served_entities() -> None:
    body = _body()
    body["config"]["traffic_config"]["routes"][1]["served_model_name"] = "c"
    assert _error(body) == (
        "Invalid endpoint_config: endpoint_config.config.traffic_config.routes[1]."
        "served_model_name: 'c' names no served entity; served entities: a, b"
    )


def test_routes_may_use_served_entity_name() -> None:
    body = _body()
    body["config"]["traffic_config"]["routes"][1] = {
        "served_entity_name": "b",
        "traffic_percentage": 30,
    }
    assert load_endpoint_config(body).served_entities[1].traffic_percentage == 30


def test_routes_must_add_up_to_100() -> None:
    body = _body()
    body["config"]["traffic_config"]["routes"][1]["traffic_percentage"] = 20
    assert _error(body) == (
        "Invalid endpoint_config: endpoint_config.config.traffic_config.routes: traffic "
        "percentages add up to 90, not 100: adjust them"
    )


def test_route_percentages_are_between_0_and_100() -> None:
    body = _body()
    routes = body["config"]["traffic_config"]["routes"]
    routes[0]["traffic_percentage"], routes[1]["traffic_percentage"] = 110, -10
    message = _error(body)
    assert "routes[0].traffic_percentage: must be between 0 and 100" in message
    assert "routes[1].traffic_percentage: must be between 0 and 100" in message


def test_each_served_entity_has_one_route() -> None:
    body = _body()
    body["config"]["traffic_config"]["routes"][1]["served_model_name"] = "a"
    assert (
        "routes[1]: served entity 'a' already has a route (routes[0]): give each served "
        "entity one route"
    ) in _error(body)


def test_served_entity_names_are_unique() -> None:
    body = _body()
    body["config"]["served_entities"][1]["name"] = "a"
    assert (
        "endpoint_config.config.served_entities[1].name: 'a' is already the name of "
        "served_entities[0]: served entity names must be unique; set a different name"
    ) in _error(body)


def test_defaulted_names_that_collide_say_where_they_come_from() -> None:
    entities = [{"external_model": _openai("m.1")}, {"external_model": _openai("m:1")}]
    routes = [
        {"served_model_name": "m-1", "traffic_percentage": 50},
        {"served_model_name": "m-1", "traffic_percentage": 50},
    ]
    body = _body(config={"served_entities": entities, "traffic_config": {"routes": routes}})
    assert (
        "served_entities[1].name (defaulted from external_model.name): 'm-1' is already the "
        "name of served_entities[0]"
    ) in _error(body)


def test_served_entity_names_use_the_allowed_characters() -> None:
    body = _body()
    body["config"]["served_entities"][0]["name"] = "a b"
    body["config"]["traffic_config"]["routes"][0]["served_model_name"] = "a b"
    assert (
        "endpoint_config.config.served_entities[0].name: may hold only letters, digits, '-' "
        "and '_': set name"
    ) in _error(body)


def test_endpoint_name_uses_the_allowed_characters() -> None:
    assert "endpoint_config.name: may hold only letters, digits, '-' and '_'" in _error(
        _body(name="my endpoint!")
    )


def test_endpoint_name_is_required() -> None:
    body = _body()
    del body["name"]
    assert _error(body) == (
        "Invalid endpoint_config: endpoint_config.name: required: set it to the endpoint "
        "name, e.g. 'my-chat-endpoint'"
    )


def test_all_external_models_share_one_task() -> None:
    body = _body()
    body["config"]["served_entities"][1]["external_model"] = _openai("emb", "llm/v1/embeddings")
    assert (
        "endpoint_config.config.served_entities[1].external_model.task: is 'llm/v1/embeddings' "
        "but served_entities[0] is 'llm/v1/chat': all external models of an endpoint must "
        "share one task"
    ) in _error(body)


def test_task_must_match_the_class_it_is_used_with() -> None:
    client = ExternalClient(endpoint_config=_body())
    with pytest.raises(ConfigurationError) as info:
        client.embed(["x"])
    assert str(info.value) == (
        "endpoint_config.config.served_entities[0].external_model.task is 'llm/v1/chat' but "
        "ExternalEmbeddings needs 'llm/v1/embeddings': use ChatExternal for this model or set "
        "task to 'llm/v1/embeddings'"
    )


def test_the_provider_must_offer_the_task() -> None:
    body = _body()
    body["config"]["served_entities"][0]["external_model"] = {
        "name": "claude",
        "provider": "anthropic",
        "task": "llm/v1/embeddings",
        "anthropic_config": {"anthropic_api_key": "{{secrets/s/k}}"},
    }
    assert (
        "endpoint_config.config.served_entities[0].external_model.task: provider 'anthropic' "
        "does not offer 'llm/v1/embeddings'"
    ) in _error(body)


def test_external_model_problems_keep_their_full_path() -> None:
    body = _body()
    del body["config"]["served_entities"][1]["external_model"]["openai_config"]
    assert (
        "endpoint_config.config.served_entities[1].external_model.openai_config: required for "
        "provider 'openai': add a openai_config block"
    ) in _error(body)


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (
            {"calls": 0, "renewal_period": "minute"},
            "endpoint_config.rate_limits[0].calls: must be at least 1 call per minute",
        ),
        (
            {"calls": 5, "renewal_period": "hour"},
            "endpoint_config.rate_limits[0].renewal_period: Input should be 'minute'",
        ),
        (
            {"calls": 5, "key": "team", "renewal_period": "minute"},
            "endpoint_config.rate_limits[0].key: Input should be 'user' or 'endpoint'",
        ),
        (
            {"key": "user", "renewal_period": "minute"},
            "endpoint_config.rate_limits[0].calls: required: set it to how many calls are "
            "allowed per renewal_period, e.g. 100",
        ),
        (
            {"calls": "5", "renewal_period": "minute"},
            "endpoint_config.rate_limits[0].calls: Input should be a valid integer",
        ),
    ],
)
def test_rate_limit_fields_are_valid(limit: dict[str, Any], expected: str) -> None:
    assert _error(_body(rate_limits=[limit])) == f"Invalid endpoint_config: {expected}"


def test_ai_gateway_rate_limits_need_calls_or_tokens() -> None:
    body = _body(ai_gateway={"rate_limits": [{"key": "endpoint", "renewal_period": "minute"}]})
    assert _error(body) == (
        "Invalid endpoint_config: endpoint_config.ai_gateway.rate_limits[0]: set calls (or "
        "tokens) per minute"
    )


def test_ai_gateway_fallback_config_turns_fallbacks_on() -> None:
    body = _body(ai_gateway={"fallback_config": {"enabled": True}})
    assert load_endpoint_config(body).fallbacks


def test_tag_keys_are_unique() -> None:
    body = _body(tags=[{"key": "team", "value": "a"}, {"key": "team"}])
    assert (
        "endpoint_config.tags[1].key: 'team' is already used by tags[0]: tag keys must be unique"
    ) in _error(body)


def test_unknown_fields_get_a_suggestion() -> None:
    body = _body()
    body["config"]["trafic_config"] = body["config"].pop("traffic_config")
    message = _error(body)
    assert (
        "endpoint_config.config.trafic_config: unknown field (did you mean 'traffic_config'?)"
        in (message)
    )


def test_every_problem_is_reported_at_once() -> None:
    body = _body(name="bad name")
    body["config"]["traffic_config"]["routes"][1]["traffic_percentage"] = 20
    body["rate_limits"][0]["calls"] = 0
    message = _error(body)
    assert message.startswith("Invalid endpoint_config (3 problems):\n  - endpoint_config.name")


def test_the_caller_body_is_not_modified() -> None:
    body = _body()
    before = copy.deepcopy(body)
    load_endpoint_config(body)
    assert body == before


def test_reads_json_and_yaml_files(tmp_path: Path) -> None:
    body = _body()
    (tmp_path / "ep.json").write_text(json.dumps(body))
    yaml = pytest.importorskip("yaml")
    (tmp_path / "ep.yaml").write_text(yaml.safe_dump(body))
    from_json = load_endpoint_config(tmp_path / "ep.json")
    from_yaml = load_endpoint_config(str(tmp_path / "ep.yaml"))
    assert from_json == from_yaml == load_endpoint_config(body)


def test_file_errors_give_the_position_never_the_content(tmp_path: Path) -> None:
    path = tmp_path / "ep.json"
    path.write_text('{"name": "x", "key": "' + CANARY + '",,}')
    message = _error(path)
    assert message.startswith("endpoint_config: 'ep.json' is not valid JSON at line 1, column")
    assert _error(tmp_path / "missing.json").startswith("endpoint_config: no file at ")


def test_yaml_without_pyyaml_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ep.yaml"
    path.write_text("name: x\n")
    monkeypatch.setitem(sys.modules, "yaml", None)
    assert _error(path) == (
        "endpoint_config: reading 'ep.yaml' needs PyYAML: pip install "
        '"extmodels-integrations[yaml]" (or give a JSON file)'
    )


def test_to_dict_gives_back_the_body() -> None:
    body = _body()
    dumped = load_endpoint_config(body).to_dict()
    block = dumped["config"]["served_entities"][0]["external_model"]
    assert block["openai_config"]["openai_api_key_plaintext"].get_secret_value() == CANARY
    assert dumped["rate_limits"] == body["rate_limits"]
    assert dumped["config"]["traffic_config"] == body["config"]["traffic_config"]


def test_exactly_one_target() -> None:
    with pytest.raises(ConfigurationError, match="give exactly one target"):
        ExternalClient(endpoint="x", host="https://h", token="t", endpoint_config=_body())
