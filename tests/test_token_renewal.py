"""A cached OAuth token the workspace refuses before it expired by our clock (revoked, secret
rotated) is dropped, a new one fetched and the request sent once more: serving calls (plain
and streamed, sync and async), the secrets fetch and the lifecycle API. Many requests refused
at once fetch one new token; a second refusal is the typed error; static tokens are not
asked again."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from extmodels_integrations import ExternalClient
from extmodels_integrations._auth import StaticAuth
from extmodels_integrations._direct import DirectTarget
from extmodels_integrations._exceptions import APIError, AuthenticationError
from extmodels_integrations._signed import renew_after
from extmodels_integrations._wire import HttpRequest
from extmodels_integrations._workspace_oauth import WorkspaceOAuth
from extmodels_integrations.endpoints import AsyncEndpointsClient, EndpointsClient
from tests.support.fake_workspace import FakeWorkspace

SECRET = "canary-RENEW-SP-SECRET-93c1d0"
PAT = "canary-RENEW-PAT-4e7a2b95"
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def ws() -> Iterator[FakeWorkspace]:
    with FakeWorkspace(token=PAT, service_principals={"sp-1": SECRET}) as running:
        yield running


def _m2m(ws: FakeWorkspace) -> ExternalClient:
    return ExternalClient(endpoint="ep", host=ws.url, client_id="sp-1", client_secret=SECRET)


def _sent(ws: FakeWorkspace) -> list[str]:
    return [auth.removeprefix("Bearer ") for _, auth in ws.authorized]


@pytest.mark.parametrize("status", [401, 403])
def test_a_revoked_token_is_replaced_and_the_call_sent_again(
    ws: FakeWorkspace, status: int
) -> None:
    client = _m2m(ws)
    client.chat(messages=HI)
    ws.revoke(status=status)  # 403 "Invalid access token." is how REST APIs refuse one
    assert client.chat(messages=HI).choices[0].content == "ok"
    assert ws.token_requests == 2
    assert [auth for _, auth in ws.refused] == ["Bearer oauth-sp-1-1"]
    assert _sent(ws) == ["oauth-sp-1-1", "oauth-sp-1-2"]


def test_a_second_refusal_is_the_authentication_error(ws: FakeWorkspace) -> None:
    client = _m2m(ws)
    ws.refuse_oauth = 401
    with pytest.raises(AuthenticationError) as refused:
        client.chat(messages=HI)
    assert refused.value.status_code == 401
    assert ws.token_requests == 2 and len(ws.refused) == 2  # one retry, no more
    assert SECRET not in str(refused.value) and "oauth-sp-1" not in str(refused.value)


def test_another_refusal_than_a_token_is_not_sent_again(ws: FakeWorkspace) -> None:
    client = _m2m(ws)
    client.chat(messages=HI)
    ws.inject.append((403, {"error_code": "PERMISSION_DENIED", "message": "no CAN_QUERY"}, {}))
    with pytest.raises(APIError, match="no CAN_QUERY"):
        client.chat(messages=HI)
    assert ws.token_requests == 1


def test_a_static_token_is_not_asked_again(ws: FakeWorkspace) -> None:
    client = ExternalClient(endpoint="ep", host=ws.url, token=PAT)
    ws.revoke(PAT)
    with pytest.raises(AuthenticationError):
        client.chat(messages=HI)
    assert len(ws.refused) == 1 and ws.token_requests == 0


def test_streams_are_sent_again_before_their_first_event(ws: FakeWorkspace) -> None:
    client = _m2m(ws)
    client.chat(messages=HI)
    ws.revoke()
    text = "".join(c.choices[0].content or "" for c in client.stream_chat(messages=HI) if c.choices)
    assert text == "w0 w1 w2 w3 w4 "
    ws.revoke()

    async def astreamed() -> str:
        parts = [c async for c in client.astream_chat(messages=HI) if c.choices]
        return "".join(c.choices[0].content or "" for c in parts)

    assert asyncio.run(astreamed()) == "w0 w1 w2 w3 w4 "
    assert ws.token_requests == 3 and len(ws.refused) == 2


def test_threads_refused_at_once_fetch_one_new_token(ws: FakeWorkspace) -> None:
    client = _m2m(ws)
    client.chat(messages=HI)
    ws.revoke()
    barrier = threading.Barrier(8)
    answers: list[str | None] = []

    def call() -> None:
        barrier.wait()
        answers.append(client.chat(messages=HI).choices[0].content)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == ["ok"] * 8
    # A thread that starts after the refresh never sends the old token: only that is refused.
    assert ws.token_requests == 2 and {a for _, a in ws.refused} == {"Bearer oauth-sp-1-1"}
    assert set(_sent(ws)[1:]) == {"oauth-sp-1-2"}


def test_tasks_refused_at_once_fetch_one_new_token(ws: FakeWorkspace) -> None:
    client = _m2m(ws)

    async def burst() -> list[str | None]:
        await client.achat(messages=HI)
        ws.revoke()
        done = await asyncio.gather(*(client.achat(messages=HI) for _ in range(8)))
        return [r.choices[0].content for r in done]

    assert asyncio.run(burst()) == ["ok"] * 8
    assert ws.token_requests == 2 and {a for _, a in ws.refused} == {"Bearer oauth-sp-1-1"}
    assert set(_sent(ws)[1:]) == {"oauth-sp-1-2"}


def test_the_secrets_fetch_renews(ws: FakeWorkspace) -> None:
    ws.secrets[("llm", "k")] = "sk-from-the-workspace"
    block = {
        "name": "gpt",
        "provider": "openai",
        "task": "llm/v1/chat",
        "openai_config": {"openai_api_key": "{{secrets/llm/k}}"},
    }
    client = ExternalClient(
        external_model=block, host=ws.url, client_id="sp-1", client_secret=SECRET
    )
    target = client._target
    assert isinstance(target, DirectTarget)
    # The sign-in's token is cached, then revoked before the secret is read with it.
    target._signed_in().auth.headers(target.transport, HttpRequest(url=ws.url))
    ws.revoke()
    assert "sk-from-the-workspace" in client._adapter().auth.secret_values()
    assert ws.token_requests == 2 and [p for p, _ in ws.refused] == ["/api/2.0/secrets/get"]


def test_the_lifecycle_api_renews_sync_and_async(ws: FakeWorkspace) -> None:
    with EndpointsClient(host=ws.url, client_id="sp-1", client_secret=SECRET) as lifecycle:
        assert list(lifecycle.list()) == []
        ws.revoke(status=403)
        assert list(lifecycle.list()) == []
    assert ws.token_requests == 2 and len(ws.refused) == 1

    async def alist() -> None:
        async with AsyncEndpointsClient(
            host=ws.url, client_id="sp-1", client_secret=SECRET
        ) as client:
            assert list(await client.list()) == []
            ws.revoke()
            assert list(await client.list()) == []

    asyncio.run(alist())
    assert ws.token_requests == 4 and len(ws.refused) == 2


def test_renew_after_drops_only_the_token_the_request_carried() -> None:
    auth = WorkspaceOAuth(host="https://h", client_id="c", client_secret=SecretStr(SECRET))
    auth._token, auth._expires_at = SecretStr("new"), float("inf")
    refused = AuthenticationError("Invalid Token", status_code=401)
    old = HttpRequest(url="https://h/x", headers={"Authorization": "Bearer old"})
    assert renew_after(auth, refused, old) and auth._fresh() is not None  # new one kept
    now = HttpRequest(url="https://h/x", headers={"Authorization": "Bearer new"})
    assert renew_after(auth, refused, now) and auth._fresh() is None
    static = StaticAuth({"Authorization": ("Bearer ", SecretStr(PAT))})
    assert not renew_after(static, refused, now)
    denied = APIError("no CAN_QUERY permission", status_code=403)
    assert not renew_after(auth, denied, now)
