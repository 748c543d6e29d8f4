"""A databricks-sdk sign-in whose token the workspace refuses before the SDK's own expiry
(revoked, secret rotated) signs in anew once and the request goes again, like the package's
own OAuth: plain and async, many refusals at once → one new sign-in, a second refusal is the
typed error, and a static sign-in (PAT) is not asked again.

The fake workspace serves OAuth M2M as the SDK reads it; the package signs M2M in by itself,
so the tests route ``oauth-m2m`` to the SDK by taking it off the package's own methods."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from extmodels_integrations import ExternalClient, _workspace
from extmodels_integrations._exceptions import AuthenticationError
from extmodels_integrations._workspace_oauth import sdk_sign_in
from tests.support.fake_workspace import FakeWorkspace

pytest.importorskip("databricks.sdk")

SECRET = "canary-SDKRENEW-SP-SECRET-5d21aa"
PAT = "canary-SDKRENEW-PAT-0c9e31"
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(autouse=True)
def through_the_sdk(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setattr(_workspace, "_CORE_METHODS", ("pat",))
    monkeypatch.setenv("HOME", str(tmp_path))  # no real ~/.databrickscfg
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def ws() -> Iterator[FakeWorkspace]:
    with FakeWorkspace(token=PAT, service_principals={"sp-1": SECRET}) as running:
        yield running


def _client(ws: FakeWorkspace) -> ExternalClient:
    client = ExternalClient(
        endpoint="ep", host=ws.url, client_id="sp-1", client_secret=SECRET, auth_type="oauth-m2m"
    )
    assert client.workspace.method == "sdk:oauth-m2m"
    return client


def _sent(ws: FakeWorkspace) -> list[str]:
    return [auth.removeprefix("Bearer ") for _, auth in ws.authorized]


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_sdk_token_is_renewed_and_the_call_sent_again(
    ws: FakeWorkspace, status: int
) -> None:
    client = _client(ws)
    client.chat(messages=HI)
    ws.revoke(status=status)
    assert client.chat(messages=HI).choices[0].content == "ok"
    assert ws.token_requests == 2
    assert [auth for _, auth in ws.refused] == ["Bearer oauth-sp-1-1"]
    assert _sent(ws) == ["oauth-sp-1-1", "oauth-sp-1-2"]


def test_async_too(ws: FakeWorkspace) -> None:
    client = _client(ws)

    async def run() -> str | None:
        await client.achat(messages=HI)
        ws.revoke()
        return (await client.achat(messages=HI)).choices[0].content

    assert asyncio.run(run()) == "ok"
    assert _sent(ws) == ["oauth-sp-1-1", "oauth-sp-1-2"]


def test_a_second_refusal_is_the_authentication_error(ws: FakeWorkspace) -> None:
    client = _client(ws)
    ws.refuse_oauth = 401
    with pytest.raises(AuthenticationError) as refused:
        client.chat(messages=HI)
    assert ws.token_requests == 2 and len(ws.refused) == 2  # one renewal, one retry
    assert SECRET not in str(refused.value) and "oauth-sp-1" not in str(refused.value)


def test_many_refusals_at_once_sign_in_once(ws: FakeWorkspace) -> None:
    client = _client(ws)
    client.chat(messages=HI)
    ws.revoke()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            client.chat(messages=HI)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert ws.token_requests == 2


def test_a_static_sdk_sign_in_is_not_asked_again(ws: FakeWorkspace) -> None:
    _, auth, method = sdk_sign_in({"host": ws.url, "token": PAT, "auth_type": "pat"}, 10)
    assert method == "pat"
    headers = auth.headers(None, None)  # type: ignore[arg-type]
    assert auth.forget(headers["Authorization"]) is False
