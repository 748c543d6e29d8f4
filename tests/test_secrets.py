"""Secret references and the resolution chain (user resolver -> env var -> workspace API)."""

from __future__ import annotations

import base64
import threading

import pytest
from pydantic import SecretStr

from extmodels_integrations._exceptions import (
    ConfigurationError,
    MalformedResponseError,
    PermissionDeniedError,
)
from extmodels_integrations._secrets import (
    SecretReference,
    SecretResolver,
    decode_workspace_secret,
    is_secret_reference,
    secret_reference_problem,
    workspace_secret_request,
)

CANARY = "sk-canary-DO-NOT-LEAK-123"


# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scope", "key"),
    [
        ("{{secrets/my_scope/openai_key}}", "my_scope", "openai_key"),
        ("{{secrets/team-a.prod/key.v2}}", "team-a.prod", "key.v2"),
        ("{{secrets/user@example.com/k}}", "user@example.com", "k"),
    ],
)
def test_parse_good_reference(text: str, scope: str, key: str) -> None:
    ref = SecretReference.parse(text)
    assert (ref.scope, ref.key) == (scope, key)
    assert str(ref) == text
    assert is_secret_reference(text)
    assert secret_reference_problem(text) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("secrets/a/b", "double braces"),
        ("{{secrets/a}}", "exactly one scope and one key"),
        ("{{secrets/a/b/c}}", "exactly one scope and one key"),
        ("{{ secret/a/b }}", "spaces inside the braces"),
        ("{{secret/a/b}}", "'secrets/'"),
        (" {{secrets/a/b}}", "whitespace"),
        ("", "empty"),
        ("{{secrets/a b/c}}", "characters"),
        (CANARY, "double braces"),
    ],
)
def test_parse_bad_reference_says_what_is_wrong_without_echoing(text: str, problem: str) -> None:
    assert not is_secret_reference(text)
    with pytest.raises(ConfigurationError) as info:
        SecretReference.parse(text)
    message = str(info.value)
    assert problem in message
    assert "{{secrets/<scope>/<key>}}" in message
    assert CANARY not in message


def test_parse_rejects_non_string() -> None:
    with pytest.raises(ConfigurationError, match="not a string"):
        SecretReference.parse(42)  # type: ignore[arg-type]


def test_reference_constructor_validates_parts() -> None:
    with pytest.raises(ConfigurationError, match="scope"):
        SecretReference("a/b", "k")


# --- env var naming --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "key", "name"),
    [
        ("my_scope", "openai", "EXTMODELS_SECRET__MY_SCOPE__OPENAI"),
        ("my-scope", "openai.key", "EXTMODELS_SECRET__MY_SCOPE__OPENAI_KEY"),
        ("user@example.com", "k-1", "EXTMODELS_SECRET__USER_EXAMPLE_COM__K_1"),
    ],
)
def test_env_var_naming_rule(scope: str, key: str, name: str) -> None:
    assert SecretReference(scope, key).env_var == name


def test_env_var_provides_secret() -> None:
    resolver = SecretResolver(environ={"EXTMODELS_SECRET__S__K": CANARY})
    value = resolver.resolve("{{secrets/s/k}}")
    assert isinstance(value, SecretStr)
    assert value.get_secret_value() == CANARY


# --- chain order ---------------------------------------------------------------------------


def test_user_resolver_beats_env_and_workspace() -> None:
    calls: list[str] = []

    def workspace(scope: str, key: str) -> str:
        calls.append("workspace")
        return "from-workspace"

    resolver = SecretResolver(
        lambda scope, key: f"user:{scope}/{key}",
        environ={"EXTMODELS_SECRET__S__K": "from-env"},
        workspace_fetch=workspace,
    )
    assert resolver.resolve("{{secrets/s/k}}").get_secret_value() == "user:s/k"
    assert calls == []


def test_user_resolver_returning_none_falls_through_to_env() -> None:
    resolver = SecretResolver(
        lambda scope, key: None, environ={"EXTMODELS_SECRET__S__K": "from-env"}
    )
    assert resolver.resolve("{{secrets/s/k}}").get_secret_value() == "from-env"


def test_env_beats_workspace() -> None:
    resolver = SecretResolver(
        environ={"EXTMODELS_SECRET__S__K": "from-env"},
        workspace_fetch=lambda scope, key: "from-workspace",
    )
    assert resolver.resolve("{{secrets/s/k}}").get_secret_value() == "from-env"


def test_workspace_fetch_used_when_given() -> None:
    seen: list[tuple[str, str]] = []

    def workspace(scope: str, key: str) -> str:
        seen.append((scope, key))
        return "from-workspace"

    resolver = SecretResolver(environ={}, workspace_fetch=workspace)
    assert resolver.resolve(SecretReference("s", "k")).get_secret_value() == "from-workspace"
    assert seen == [("s", "k")]


def test_user_resolver_must_return_str() -> None:
    resolver = SecretResolver(lambda scope, key: b"bytes", environ={})  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigurationError, match="must return the secret as str"):
        resolver.resolve("{{secrets/s/k}}")


# --- caching -------------------------------------------------------------------------------


def test_results_are_cached_per_reference() -> None:
    calls: list[tuple[str, str]] = []

    def user(scope: str, key: str) -> str:
        calls.append((scope, key))
        return f"v-{key}"

    resolver = SecretResolver(user, environ={})
    assert resolver.resolve("{{secrets/s/a}}").get_secret_value() == "v-a"
    assert resolver.resolve(SecretReference("s", "a")).get_secret_value() == "v-a"
    assert resolver.resolve("{{secrets/s/b}}").get_secret_value() == "v-b"
    assert calls == [("s", "a"), ("s", "b")]


def test_failures_are_not_cached() -> None:
    env: dict[str, str] = {}
    resolver = SecretResolver(environ=env)
    with pytest.raises(ConfigurationError):
        resolver.resolve("{{secrets/s/k}}")
    env["EXTMODELS_SECRET__S__K"] = "later"
    assert resolver.resolve("{{secrets/s/k}}").get_secret_value() == "later"


def test_cache_is_thread_safe_and_consistent() -> None:
    resolver = SecretResolver(lambda scope, key: "v", environ={})
    results: list[SecretStr] = []

    def work() -> None:
        results.append(resolver.resolve("{{secrets/s/k}}"))

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 16
    assert len({id(r) for r in results}) == 1  # every caller got the one cached object


# --- unresolvable --------------------------------------------------------------------------


def test_unresolvable_names_reference_and_every_way_to_provide_it() -> None:
    resolver = SecretResolver(environ={"OTHER": CANARY})
    with pytest.raises(ConfigurationError) as info:
        resolver.resolve("{{secrets/my-scope/openai}}")
    message = str(info.value)
    assert "{{secrets/my-scope/openai}}" in message
    assert "EXTMODELS_SECRET__MY_SCOPE__OPENAI" in message
    assert "DATABRICKS_HOST" in message and "DATABRICKS_TOKEN" in message
    assert "secret_resolver=" in message
    assert "_plaintext" in message
    assert CANARY not in message


def test_unresolvable_after_workspace_and_user_resolver_says_they_were_tried() -> None:
    resolver = SecretResolver(
        lambda scope, key: None, environ={}, workspace_fetch=lambda scope, key: None
    )
    with pytest.raises(ConfigurationError) as info:
        resolver.resolve("{{secrets/s/k}}")
    message = str(info.value)
    assert "workspace secrets API was asked" in message
    assert "secret_resolver you passed returned nothing" in message
    assert "EXTMODELS_SECRET__S__K" in message


def test_workspace_error_is_wrapped_with_cause() -> None:
    cause = PermissionDeniedError("no READ on scope", provider="databricks", status_code=403)

    def workspace(scope: str, key: str) -> str:
        raise cause

    resolver = SecretResolver(environ={}, workspace_fetch=workspace)
    with pytest.raises(ConfigurationError) as info:
        resolver.resolve("{{secrets/s/k}}")
    assert info.value.__cause__ is cause
    message = str(info.value)
    assert "{{secrets/s/k}}" in message
    assert "no READ on scope" in message
    assert "EXTMODELS_SECRET__S__K" in message


# --- workspace helpers ---------------------------------------------------------------------


def test_workspace_secret_request() -> None:
    url, params = workspace_secret_request("https://adb-1.azuredatabricks.net/", "s", "k")
    assert url == "https://adb-1.azuredatabricks.net/api/2.0/secrets/get"
    assert params == {"scope": "s", "key": "k"}


def test_workspace_secret_request_adds_scheme_and_rejects_empty_host() -> None:
    url, _ = workspace_secret_request("dbc-1.cloud.databricks.com", "s", "k")
    assert url == "https://dbc-1.cloud.databricks.com/api/2.0/secrets/get"
    with pytest.raises(ConfigurationError, match="DATABRICKS_HOST"):
        workspace_secret_request("  ", "s", "k")


def test_decode_workspace_secret() -> None:
    payload = {"key": "k", "value": base64.b64encode(CANARY.encode()).decode()}
    assert decode_workspace_secret(payload) == CANARY


@pytest.mark.parametrize(
    "payload",
    [
        {"key": "k"},
        {"key": "k", "value": "not base64!"},
        {"key": "k", "value": base64.b64encode(b"\xff\xfe" + CANARY.encode()).decode()},
    ],
)
def test_decode_workspace_secret_errors_do_not_leak(payload: dict[str, str]) -> None:
    with pytest.raises(MalformedResponseError) as info:
        decode_workspace_secret(payload)
    assert CANARY not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__
