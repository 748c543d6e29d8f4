"""A progress bar over the embedding batches of one call, fed by the core's ``progress``
callback, so a bar counts exactly the requests the core sends. tqdm is not a dependency of the
core: it is imported only when a bar is asked for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations._types import BatchProgress

__all__ = ["batch_bar", "require_tqdm"]


def require_tqdm(field: str) -> None:
    """Raise :class:`ConfigurationError` naming ``field`` when tqdm is not installed."""
    try:
        import tqdm.auto  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
    except ImportError:
        raise ConfigurationError(f"{field}=True needs tqdm: pip install tqdm") from None


class _BatchBar:
    def __init__(self, desc: str) -> None:
        self._desc = desc
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        from tqdm.auto import tqdm  # type: ignore[import-untyped,unused-ignore]

        if self._bar is None:
            self._bar = tqdm(total=total, desc=self._desc, unit="batch")
        elif done == 0:  # a fallback entity starts the call over, maybe with other batch sizes
            self._bar.reset(total=total)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@contextmanager
def batch_bar(show: bool, desc: str = "Generating embeddings") -> Iterator[BatchProgress | None]:
    """A ``progress`` callback drawing a tqdm bar (closed on exit), or ``None`` when not
    ``show``."""
    if not show:
        yield None
        return
    bar = _BatchBar(desc)
    try:
        yield bar
    finally:
        bar.close()
