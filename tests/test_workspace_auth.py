"""Signing in to a workspace: the settings' sources and precedence, PAT and OAuth M2M in core
(cached, refreshed, thread- and task-safe), the databricks-sdk delegation, the errors, and the
places that use it (endpoint=, the secrets API, the lifecycle client) against the fake."""

from __future__ import annotations

import asyncio
import pickle
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from extmodels_integrations import ExternalClient
from extmodels_integrations._exceptions import AuthenticationError, ConfigurationError
from extmodels_integrations._workspace import find_workspace, sign_in
from extmodels_integrations._workspace_oauth import sdk_sign_in
from extmodels_integrations.endpoints import EndpointsClient
from tests.support.fake_workspace import FakeWorkspace

SECRET = "canary-SP-SECRET-0c9d7e1f4a"
PAT = "canary-WORKSPACE-PAT-3b8e6a2d"
ENV_NAMES = (
    "DATABRICKS_HOST",
    "DATABRICKS_TOKEN",
    "DATABRICKS_CLIENT_ID",
    "DATABRICKS_CLIENT_SECRET",
    "DATABRICKS_AUTH_TYPE",
    "DATABRICKS_CONFIG_PROFILE",
    "DATABRICKS_CONFIG_FILE",
    "DATABRICKS_RUNTIME_VERSION",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no real ~/.databrickscfg


@pytest.fixture
def ws() -> FakeWorkspace:
    with FakeWorkspace(token=PAT, service_principals={"sp-1": SECRET}) as running:
        yield running


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _cfg(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def _m2m(ws: FakeWorkspace) -> tuple[ExternalClient, Clock]:
    client = ExternalClient(endpoint="ep", host=ws.url, client_id="sp-1", client_secret=SECRET)
    clock = Clock()
    assert client.workspace is not None
    client.workspace.auth._clock = clock  # type: ignore[attr-defined]
    return client, clock


# -- sources and precedence -----------------------------------------------------------------


def test_arguments_beat_env_vars_which_beat_the_profile(tmp_path: Path) -> None:
    cfg = _cfg(
        tmp_path / "cfg",
        """
        [p]
        host = https://profile.example
        token = profile-token
        client_id = profile-client
        """,
    )
    env = {"DATABRICKS_CONFIG_FILE": str(cfg), "DATABRICKS_TOKEN": "env-token"}
    found = find_workspace({"host": "https://arg.example", "profile": "p"}, env)
    assert found.text("host") == "https://arg.example"
    assert found.get("host").source == "argument host="
    assert found.text("token") == "env-token"
    assert found.get("token").source == "env var DATABRICKS_TOKEN"
    assert found.text("client_id") == "profile-client"
    assert found.get("client_id").source == f"profile 'p' in {cfg}"
    assert "env-token" not in repr(found) and "env-token" not in found.sources()


def test_the_default_profile_of_home_is_read_when_nothing_else_is_set(tmp_path: Path) -> None:
    _cfg(tmp_path / ".databrickscfg", "[DEFAULT]\nhost = h.example\ntoken = t\n")
    signed = sign_in(find_workspace({}, {"HOME": str(tmp_path)}))
    assert (signed.host, signed.method) == ("https://h.example", "pat")
    assert "profile 'DEFAULT'" in signed.source


def test_the_profile_file_is_skipped_when_the_environment_configures_a_workspace(
    tmp_path: Path,
) -> None:
    _cfg(tmp_path / ".databrickscfg", "[DEFAULT]\nhost = file.example\ntoken = t\n")
    env = {"HOME": str(tmp_path), "DATABRICKS_HOST": "env.example", "DATABRICKS_TOKEN": "e"}
    found = find_workspace({}, env)
    assert found.get("profile") is None and found.text("token") == "e"


def test_profile_from_env_var_and_config_file_env_var(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path / "other.cfg", "[prod]\nhost = prod.example\nclient_id = a\n")
    env = {"DATABRICKS_CONFIG_FILE": str(cfg), "DATABRICKS_CONFIG_PROFILE": "prod"}
    found = find_workspace({}, env)
    assert found.text("host") == "prod.example"
    assert found.get("profile").source == "env var DATABRICKS_CONFIG_PROFILE"


def test_a_missing_profile_names_the_file_and_the_profiles_there(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path / "cfg", f"[dev]\nhost = h\ntoken = {PAT}\n")
    with pytest.raises(ConfigurationError) as info:
        find_workspace({"profile": "prod"}, {"DATABRICKS_CONFIG_FILE": str(cfg)})
    message = str(info.value)
    assert str(cfg) in message and "'prod'" in message and "dev" in message
    assert "argument profile=" in message and PAT not in message


def test_a_named_profile_without_a_file_says_which_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist") as info:
        find_workspace({"profile": "p"}, {"HOME": str(tmp_path)})
    assert str(tmp_path / ".databrickscfg") in str(info.value)


# -- PAT and M2M against the fake -----------------------------------------------------------


def test_pat_signs_in_endpoint_calls(ws: FakeWorkspace) -> None:
    client = ExternalClient(endpoint="ep", host=ws.url, token=PAT)
    assert client.workspace.method == "pat"
    assert client.chat(messages=[{"role": "user", "content": "hi"}]).choices[0].content == "ok"
    assert ws.authorized == [("/serving-endpoints/ep/invocations", f"Bearer {PAT}")]
    assert ws.token_requests == 0


def test_m2m_from_env_vars_fetches_one_token_and_refreshes_it_before_expiry(
    ws: FakeWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABRICKS_HOST", ws.url)
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", "sp-1")
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", SECRET)
    client = ExternalClient(endpoint="ep")
    clock = Clock()
    client.workspace.auth._clock = clock  # type: ignore[attr-defined]
    assert client.workspace.method == "oauth-m2m" and ws.token_requests == 0
    for _ in range(3):
        client.chat(messages=[{"role": "user", "content": "hi"}])
    assert ws.token_requests == 1
    clock.now += 3600 - 299  # inside the refresh margin of a one-hour token
    client.chat(messages=[{"role": "user", "content": "hi"}])
    assert ws.token_requests == 2
    tokens = [auth for _, auth in ws.authorized]
    assert tokens[:3] == ["Bearer oauth-sp-1-1"] * 3 and tokens[3] == "Bearer oauth-sp-1-2"


def test_threads_share_one_token_fetch_and_one_refresh(ws: FakeWorkspace) -> None:
    client, clock = _m2m(ws)

    def burst() -> None:
        barrier = threading.Barrier(8)

        def call() -> None:
            barrier.wait()
            client.chat(messages=[{"role": "user", "content": "hi"}])

        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    burst()
    assert ws.token_requests == 1
    ws.expire_tokens()
    clock.now += 3600
    burst()
    assert ws.token_requests == 2
    assert len(ws.authorized) == 16


def test_tasks_share_one_token_fetch_and_one_refresh(ws: FakeWorkspace) -> None:
    client, clock = _m2m(ws)

    async def burst() -> None:
        await asyncio.gather(
            *(client.achat(messages=[{"role": "user", "content": "hi"}]) for _ in range(8))
        )

    asyncio.run(burst())
    assert ws.token_requests == 1
    ws.expire_tokens()
    clock.now += 3600
    asyncio.run(burst())
    assert ws.token_requests == 2


def test_a_stream_outlives_its_token_and_the_next_call_refreshes(ws: FakeWorkspace) -> None:
    client, clock = _m2m(ws)
    stream = client.stream_chat(messages=[{"role": "user", "content": "long"}])
    first = next(stream)
    ws.expire_tokens()  # the token expires while the stream is being read
    clock.now += 3600
    rest = list(stream)
    text = "".join(c.choices[0].content or "" for c in [first, *rest] if c.choices)
    assert text == "w0 w1 w2 w3 w4 "
    client.chat(messages=[{"role": "user", "content": "next"}])
    assert ws.token_requests == 2


# -- errors ---------------------------------------------------------------------------------


def test_a_rejected_service_principal_says_what_to_check_without_the_secret(
    ws: FakeWorkspace,
) -> None:
    client = ExternalClient(endpoint="ep", host=ws.url, client_id="sp-1", client_secret="wrong1")
    with pytest.raises(AuthenticationError) as info:
        client.chat(messages=[{"role": "user", "content": "hi"}])
    message = str(info.value)
    assert "client_id='sp-1'" in message and "DATABRICKS_CLIENT_SECRET" in message
    assert "wrong1" not in message and SECRET not in message


def test_no_credentials_says_what_was_tried_and_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        ExternalClient(endpoint="ep")
    message = str(info.value)
    assert message.startswith("endpoint 'ep': no workspace credentials")
    for needed in ("pat", "oauth-m2m", "DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID", "host"):
        assert needed in message
    assert str(tmp_path / ".databrickscfg") in message


def test_an_incomplete_forced_method_names_the_missing_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABRICKS_AUTH_TYPE", "oauth-m2m")
    with pytest.raises(ConfigurationError) as info:
        ExternalClient(endpoint="ep", host="h.example", client_id="sp-1")
    message = str(info.value)
    assert "env var DATABRICKS_AUTH_TYPE" in message and "client_secret" in message
    assert "DATABRICKS_CLIENT_SECRET" in message


def test_two_methods_at_once_need_auth_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_TOKEN", PAT)
    kwargs = {"host": "h.example", "client_id": "sp-1", "client_secret": SECRET}
    with pytest.raises(ConfigurationError, match="auth_type") as info:
        ExternalClient(endpoint="ep", **kwargs)
    assert PAT not in str(info.value) and SECRET not in str(info.value)
    assert "env var DATABRICKS_TOKEN" in str(info.value)
    client = ExternalClient(endpoint="ep", auth_type="oauth-m2m", **kwargs)
    assert client.workspace.method == "oauth-m2m"


def test_missing_sdk_is_named_with_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "databricks.sdk.core", None)  # import fails
    with pytest.raises(ConfigurationError) as info:
        ExternalClient(endpoint="ep", host="h.example", auth_type="databricks-cli")
    assert 'pip install "extmodels-integrations[databricks]"' in str(info.value)


# -- databricks-sdk delegation --------------------------------------------------------------


def test_a_profile_with_a_method_only_the_sdk_has_goes_through_the_sdk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeWorkspace(basic_users={"admin": SECRET}) as ws:
        cfg = _cfg(
            tmp_path / "cfg", f"[basic]\nhost = {ws.url}\nusername = admin\npassword = {SECRET}\n"
        )
        monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(cfg))
        client = ExternalClient(endpoint="ep", profile="basic")
        assert client.workspace.method == "sdk:basic"
        client.chat(messages=[{"role": "user", "content": "hi"}])
        assert ws.authorized[0][1].startswith("Basic ")
        assert client.workspace.portable() == {
            "host": ws.url,
            "profile": "basic",
            "auth_type": "basic",
        }
        assert SECRET not in repr(client.workspace)


def test_the_fake_speaks_oauth_m2m_as_the_sdk_reads_it(ws: FakeWorkspace) -> None:
    arguments = {"host": ws.url, "client_id": "sp-1", "client_secret": SECRET}
    host, auth, method = sdk_sign_in({**arguments, "auth_type": "oauth-m2m"}, 10)
    assert (host, method) == (ws.url, "oauth-m2m")
    assert auth.headers(None, None)["Authorization"] == "Bearer oauth-sp-1-1"  # type: ignore[arg-type]
    assert ws.token_requests == 1


def test_a_bad_sdk_sign_in_is_a_configuration_error_without_the_secret(
    ws: FakeWorkspace,
) -> None:
    with pytest.raises(ConfigurationError) as info:
        ExternalClient(
            endpoint="ep",
            host=ws.url,
            client_id="sp-1",
            client_secret="not-the-secret-9",
            auth_type="oauth-m2m-sdk-unknown",
        )
    assert "auth_type='oauth-m2m-sdk-unknown'" in str(info.value)
    assert "not-the-secret-9" not in str(info.value)


def test_pat_and_m2m_never_import_the_sdk() -> None:
    code = textwrap.dedent(
        """
        import sys
        from extmodels_integrations import ExternalClient
        ExternalClient(endpoint="e", host="h.example", token="t")
        ExternalClient(endpoint="e", host="h.example", client_id="c", client_secret="s")
        assert "databricks.sdk" not in sys.modules, "databricks.sdk imported"
        """
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


# -- the other places that talk to the workspace --------------------------------------------


def test_secret_references_are_read_with_the_service_principal(ws: FakeWorkspace) -> None:
    ws.secrets[("llm", "openai")] = "sk-from-the-workspace"
    block = {
        "name": "gpt",
        "provider": "openai",
        "task": "llm/v1/chat",
        "openai_config": {"openai_api_key": "{{secrets/llm/openai}}"},
    }
    client = ExternalClient(
        external_model=block, host=ws.url, client_id="sp-1", client_secret=SECRET
    )
    assert "sk-from-the-workspace" in client._adapter().auth.secret_values()
    assert ws.authorized == [("/api/2.0/secrets/get", "Bearer oauth-sp-1-1")]


def test_the_lifecycle_client_signs_in_with_m2m(ws: FakeWorkspace) -> None:
    with EndpointsClient(host=ws.url, client_id="sp-1", client_secret=SECRET) as client:
        assert list(client.list()) == []
    assert ws.token_requests == 1 and ws.authorized[0][1] == "Bearer oauth-sp-1-1"


def test_client_secret_stays_out_of_pickles_and_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_core.load import dumps

    from extmodels_integrations.langchain import ChatExternal
    from extmodels_integrations.llama_index import ChatExternal as LlamaChat

    kwargs = {"host": "h.example", "client_id": "sp-1", "client_secret": SECRET}
    chat = ChatExternal(endpoint="ep", **kwargs)
    llm = LlamaChat(endpoint="ep", **kwargs)
    assert SECRET not in dumps(chat) + llm.to_json() + repr(chat) + repr(llm)
    assert SECRET.encode() not in pickle.dumps(chat) + pickle.dumps(llm)
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", SECRET)
    revived = pickle.loads(pickle.dumps(chat))
    assert revived.client.workspace.method == "oauth-m2m"


def test_profile_keys_that_are_no_sign_in_method_keep_the_core_path(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path / "cfg", "[p]\nhost = h.example\ntoken = t\ncluster_id = 0123-abc\n")
    signed = sign_in(find_workspace({"profile": "p"}, {"DATABRICKS_CONFIG_FILE": str(cfg)}))
    assert signed.method == "pat"
    cfg.write_text("[p]\nhost = h.example\nazure_client_id = a\n")
    found = find_workspace({"profile": "p"}, {"DATABRICKS_CONFIG_FILE": str(cfg)})
    assert found.profile_keys == ("azure_client_id",)


def test_one_profile_signs_in_the_secrets_fetch_the_serving_block_and_the_lifecycle(
    ws: FakeWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _cfg(
        tmp_path / "cfg",
        f"""
        [sp]
        host = {ws.url}
        client_id = sp-1
        client_secret = {SECRET}
        """,
    )
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(cfg))
    monkeypatch.setenv("DATABRICKS_CONFIG_PROFILE", "sp")
    ws.secrets[("llm", "openai")] = "sk-from-the-workspace"
    secret_block = {
        "name": "gpt",
        "provider": "openai",
        "task": "llm/v1/chat",
        "openai_config": {"openai_api_key": "{{secrets/llm/openai}}"},
    }
    assert "sk-from-the-workspace" in (
        ExternalClient(external_model=secret_block)._adapter().auth.secret_values()
    )
    serving_block = {
        "name": "team-llm",
        "provider": "databricks-model-serving",
        "task": "llm/v1/chat",
        "databricks_model_serving_config": {"databricks_workspace_url": ws.url},
    }
    ExternalClient(external_model=serving_block).chat(messages=[{"role": "user", "content": "hi"}])
    with EndpointsClient() as client:
        assert list(client.list()) == []
    assert [path for path, _ in ws.authorized] == [
        "/api/2.0/secrets/get",
        "/serving-endpoints/team-llm/invocations",
        "/api/2.0/serving-endpoints",
    ]
    assert all(auth.startswith("Bearer oauth-sp-1-") for _, auth in ws.authorized)
