"""``extmodels serve``: the command line, and how its options reach uvicorn's workers.

uvicorn starts workers by import string, so the options travel as JSON in the
``EXTMODELS_GATEWAY_SETTINGS`` environment variable and :func:`app_from_env` (a factory)
builds each worker's app from it.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from typing import Any

__all__ = ["add_serve_parser", "app_from_env", "main"]

ENV = "EXTMODELS_GATEWAY_SETTINGS"


def add_serve_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``serve`` to an ``extmodels`` argparse subparsers object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="serve endpoint configs as a self-hosted gateway"
    )
    _arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("configs", nargs="+", metavar="CONFIG", help="endpoint create bodies")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--tokens", required=True, help="tokens file (JSON or YAML)")
    parser.add_argument("--store", default="sqlite:///usage.db", help="usage/inference store")
    parser.add_argument("--limiter", default=None, help="redis://... (default: in memory)")
    parser.add_argument("--config-dir", default=None, help="persist API lifecycle changes here")
    parser.add_argument("--workers", type=int, default=1)


def app_from_env() -> Any:
    """The uvicorn factory: the app for the settings in ``EXTMODELS_GATEWAY_SETTINGS``."""
    from extmodels_integrations.gateway._app import Settings, create_app

    raw = json.loads(os.environ[ENV])
    raw["configs"] = tuple(raw["configs"])
    return create_app(Settings(**raw))


def run(args: argparse.Namespace) -> int:
    """Start uvicorn with ``args``."""
    import uvicorn

    from extmodels_integrations.gateway._app import Settings

    settings = Settings(
        tuple(os.path.abspath(c) for c in args.configs),
        os.path.abspath(args.tokens),
        args.store,
        args.limiter,
        args.config_dir,
    )
    os.environ[ENV] = json.dumps(asdict(settings))
    uvicorn.run(
        "extmodels_integrations.gateway._cli:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m extmodels_integrations.gateway``."""
    parser = argparse.ArgumentParser(prog="extmodels serve")
    _arguments(parser)
    return run(parser.parse_args(argv))
