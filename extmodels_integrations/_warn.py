"""Warnings that point at the user's line.

A fixed ``stacklevel`` is wrong for most callers: the same check runs under
``ExternalClient(...)``, under LangChain's pydantic validators and under LlamaIndex's, each at a
different depth. The frame to blame is computed instead: the first one outside this package,
the frameworks that call into it and the import machinery.
"""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType

__all__ = ["warn_user"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
# Frameworks whose frames sit between the user's call and ours (pydantic's model __init__,
# langchain_core's Serializable, LlamaIndex's bridges); only loaded ones can be on the stack.
_FRAMEWORKS = ("pydantic", "pydantic_core", "langchain_core", "langchain", "llama_index")


def _skipped() -> tuple[str, ...]:
    prefixes = [_PACKAGE, "<frozen importlib"]
    for name in _FRAMEWORKS:
        module = sys.modules.get(name)
        # ``llama_index`` is a namespace package: one entry per distribution installed.
        for path in getattr(module, "__path__", ()):
            prefixes.append(os.path.join(path, ""))
    return tuple(prefixes)


def _user_frame() -> FrameType | None:
    skipped = _skipped()
    frame = sys._getframe(2)  # the caller of warn_user is ours
    while frame is not None and frame.f_code.co_filename.startswith(skipped):
        frame = frame.f_back  # type: ignore[assignment]
    return frame


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """Warn with the location of the user's code that led here (see the module docstring)."""
    frame = _user_frame()
    if frame is None:
        # Nothing outside the package on the stack (a thread or task of ours): blame the caller.
        warnings.warn(message, category, stacklevel=2)
        return
    # What ``warnings.warn`` does for a frame it found: the registry makes "once" and
    # "default" filters work per location. No module_globals, as warnings.warn passes none:
    # given them, CPython asks the module's loader for the source by ``__name__``, and a
    # script run with ``python -m`` (``__main__``, loaded under its real name) raises
    # ImportError instead of warning. The line is read from the file when shown.
    globals_ = frame.f_globals
    warnings.warn_explicit(
        message,
        category,
        frame.f_code.co_filename,
        frame.f_lineno,
        module=globals_.get("__name__", "<unknown>"),
        registry=globals_.setdefault("__warningregistry__", {}),
    )
