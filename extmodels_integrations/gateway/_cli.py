"""``extmodels serve``: the command line, and how its options reach uvicorn's workers.

uvicorn starts workers by import string, so the options travel as JSON in the
``EXTMODELS_GATEWAY_SETTINGS`` environment variable and :func:`app_from_env` (a factory)
builds each worker's app from it. Logs (uvicorn's and the gateway's JSON access lines) go to
stderr, one JSON object a line, each with the ``pid`` of the worker that wrote it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

__all__ = ["JsonLine", "JsonLineFormatter", "add_serve_parser", "app_from_env", "main"]

ENV = "EXTMODELS_GATEWAY_SETTINGS"
METRICS_TOKEN_ENV = "EXTMODELS_GATEWAY_METRICS_TOKEN"
_log = logging.getLogger("extmodels_integrations.gateway")


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
    parser.add_argument(
        "--limiter",
        "--redis",
        dest="limiter",
        default=None,
        help="rate-limit state: redis://host:port/db, shared by every worker and replica "
        "(default: in memory, this process only)",
    )
    parser.add_argument(
        "--limiter-outage",
        choices=("closed", "open"),
        default="closed",
        help="while the limiter's Redis does not answer: 'closed' refuses rate-limited "
        "requests with 503 TEMPORARILY_UNAVAILABLE (default), 'open' lets them through "
        "uncounted",
    )
    parser.add_argument("--config-dir", default=None, help="persist API lifecycle changes here")
    parser.add_argument(
        "--metrics-token",
        default=os.environ.get(METRICS_TOKEN_ENV),
        help=f"bearer token GET /metrics asks for (default: ${METRICS_TOKEN_ENV}; unset: open); "
        "prefer the variable: a flag's value shows in the process list",
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning"))


class JsonLine:
    """A log message that is a JSON object: encoded only when a handler formats it, and read
    as a dict by the CLI's JSON formatter (no encode, decode, encode round trip a request)."""

    __slots__ = ("fields",)

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    def __str__(self) -> str:
        return json.dumps(self.fields)


class JsonLineFormatter(logging.Formatter):
    """One JSON object a line: the record's message (merged in when it is a JSON object, as
    the gateway's access lines are), plus ``time``, ``level``, ``logger`` and ``pid``."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one JSON line."""
        if isinstance(record.msg, JsonLine):
            return self._line(record, record.msg.fields)
        message = record.getMessage()
        fields: dict[str, Any] = {}
        if message.startswith("{"):
            try:
                parsed = json.loads(message)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                fields = parsed
        return self._line(record, fields or {"message": message})

    def _line(self, record: logging.LogRecord, fields: dict[str, Any]) -> str:
        if record.exc_info:
            fields = {**fields, "exception": self.formatException(record.exc_info)}
        head = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
        }
        return json.dumps({**head, **fields})


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's ``log_config``: every line as JSON on stderr, the gateway's loggers included
    (uvicorn's default configures only its own, which would drop the access lines)."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    loggers = ("uvicorn", "uvicorn.error", "uvicorn.access", "extmodels_integrations")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonLineFormatter"}},
        "handlers": {"stderr": handler},
        "loggers": {
            name: {"handlers": ["stderr"], "level": level.upper(), "propagate": False}
            for name in loggers
        },
    }


def app_from_env() -> Any:
    """The uvicorn factory: the app for the settings in ``EXTMODELS_GATEWAY_SETTINGS``."""
    from extmodels_integrations.gateway._app import Settings, create_app

    raw = json.loads(os.environ[ENV])
    raw["configs"] = tuple(raw["configs"])
    settings = Settings(**raw)
    if settings.limiter is not None and settings.limiter_on_outage == "open":
        # Failing open trades the limits for availability: say so where operators look.
        _log.warning(
            "rate limits fail open: while the limiter's Redis does not answer, requests go "
            "through uncounted (--limiter-outage open)"
        )
    return create_app(settings)


def run(args: argparse.Namespace) -> int:
    """Start uvicorn with ``args``."""
    import uvicorn

    from extmodels_integrations.gateway._app import Settings

    # Workers are separate processes: they meet in a directory to answer /metrics for all.
    shared = tempfile.mkdtemp(prefix="extmodels-metrics-") if args.workers > 1 else None
    settings = Settings(
        tuple(os.path.abspath(c) for c in args.configs),
        os.path.abspath(args.tokens),
        args.store,
        args.limiter,
        args.config_dir,
        limiter_on_outage=args.limiter_outage,
        metrics_dir=shared,
        metrics_token=args.metrics_token or None,
    )
    try:
        os.environ[ENV] = json.dumps(asdict(settings))
        uvicorn.run(
            "extmodels_integrations.gateway._cli:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            log_config=log_config(args.log_level),
            # The gateway writes its own access line; uvicorn's would repeat it, query string
            # included.
            access_log=False,
        )
    finally:
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m extmodels_integrations.gateway``."""
    parser = argparse.ArgumentParser(prog="extmodels serve")
    _arguments(parser)
    return run(parser.parse_args(argv))
