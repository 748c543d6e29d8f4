"""ExternalEmbeddings(show_progress=True): a tqdm bar over the batches the core sends, sync and
async, with the batching and order unchanged; nothing printed by default; a clear error when
tqdm is missing."""

from __future__ import annotations

import sys
from typing import Any, ClassVar

import pytest
import tqdm.auto

from extmodels_integrations import ConfigurationError
from extmodels_integrations._progress import batch_bar
from extmodels_integrations.langchain import ExternalEmbeddings
from tests.support.openai_server import OpenAIStubServer

TEXTS = [f"text {i}" for i in range(5)]
BATCHES = [TEXTS[0:2], TEXTS[2:4], TEXTS[4:5]]  # batch_size=2


class RecordingBar(tqdm.auto.tqdm):
    """A real tqdm bar that also keeps what it was told."""

    made: ClassVar[list[RecordingBar]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.updates: list[int] = []
        self.closed = False
        RecordingBar.made.append(self)

    def update(self, n: float | None = 1) -> bool | None:
        self.updates.append(int(n or 0))
        return super().update(n)

    def close(self) -> None:
        self.closed = True
        super().close()


@pytest.fixture
def bars(monkeypatch: pytest.MonkeyPatch) -> list[RecordingBar]:
    monkeypatch.setattr(RecordingBar, "made", [])
    monkeypatch.setattr(tqdm.auto, "tqdm", RecordingBar)
    return RecordingBar.made


def _block(server: OpenAIStubServer) -> dict[str, Any]:
    return {
        "name": "text-embedding-3-small",
        "provider": "openai",
        "task": "llm/v1/embeddings",
        "openai_config": {
            "openai_api_key_plaintext": "test-key",
            "openai_api_base": f"{server.base_url}/v1",
        },
    }


def _embeddings(server: OpenAIStubServer, **options: Any) -> ExternalEmbeddings:
    return ExternalEmbeddings(external_model=_block(server), batch_size=2, **options)


def _sent(server: OpenAIStubServer) -> list[list[str]]:
    return [r.json["input"] for r in server.requests if r.path == "/v1/embeddings"]


def test_the_bar_counts_the_batches_sent(
    bars: list[RecordingBar], capsys: pytest.CaptureFixture[str]
) -> None:
    with OpenAIStubServer() as server:
        plain = _embeddings(server).embed_documents(TEXTS)
        plain_batches = _sent(server)
        server.reset()
        shown = _embeddings(server, show_progress=True).embed_documents(TEXTS)
        shown_batches = _sent(server)
    assert shown == plain and shown_batches == plain_batches == BATCHES
    [bar] = bars
    assert (bar.total, bar.n, bar.updates, bar.closed) == (3, 3, [0, 1, 1, 1], True)
    assert "Generating embeddings: 100%" in capsys.readouterr().err


async def test_the_async_bar_counts_the_batches_sent(
    bars: list[RecordingBar], capsys: pytest.CaptureFixture[str]
) -> None:
    with OpenAIStubServer() as server:
        plain = await _embeddings(server).aembed_documents(TEXTS)
        plain_batches = sorted(_sent(server))
        server.reset()
        shown = await _embeddings(server, show_progress=True).aembed_documents(TEXTS)
        shown_batches = sorted(_sent(server))  # concurrent: any arrival order
    assert shown == plain and shown_batches == plain_batches == sorted(BATCHES)
    [bar] = bars
    assert (bar.total, bar.n, bar.updates, bar.closed) == (3, 3, [0, 1, 1, 1], True)
    assert "Generating embeddings: 100%" in capsys.readouterr().err


async def test_nothing_is_shown_by_default(
    bars: list[RecordingBar], capsys: pytest.CaptureFixture[str]
) -> None:
    with OpenAIStubServer() as server:
        embeddings = _embeddings(server)
        embeddings.embed_documents(TEXTS)
        await embeddings.aembed_documents(TEXTS)
    assert bars == []
    assert capsys.readouterr() == ("", "")


def test_an_endpoint_config_reports_its_entitys_batches(bars: list[RecordingBar]) -> None:
    with OpenAIStubServer() as server:
        entity = {"name": "only", "external_model": _block(server)}
        config = {"name": "embed", "config": {"served_entities": [entity]}}
        embeddings = ExternalEmbeddings(endpoint_config=config, batch_size=2, show_progress=True)
        embeddings.embed_documents(TEXTS)
        assert _sent(server) == BATCHES
    [bar] = bars
    assert (bar.total, bar.n) == (3, 3)


def test_a_query_shows_no_bar(bars: list[RecordingBar]) -> None:
    with OpenAIStubServer() as server:
        _embeddings(server, show_progress=True).embed_query("one")
    assert bars == []


def test_a_fallback_starts_the_bar_over(bars: list[RecordingBar]) -> None:
    with batch_bar(True) as progress:
        assert progress is not None
        for done, total in [(0, 3), (1, 3), (0, 2), (1, 2), (2, 2)]:
            progress(done, total)
    [bar] = bars
    assert (bar.total, bar.n, bar.closed) == (2, 2, True)


def test_without_tqdm_the_error_names_the_field_and_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with OpenAIStubServer() as server:
        _embeddings(server)  # the default needs no tqdm
        with pytest.raises(ConfigurationError) as caught:
            _embeddings(server, show_progress=True)
    assert str(caught.value) == "show_progress=True needs tqdm: pip install tqdm"
