"""The ``extmodels`` command: ``extmodels endpoints apply|get|list|delete``. Imports nothing
heavy at start: each subcommand loads what it runs."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]


def _endpoints_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("endpoints", help="create, update, read, delete endpoints")
    parser.add_argument("--host", help="workspace URL (default: DATABRICKS_HOST)")
    parser.add_argument("--profile", help="a ~/.databrickscfg profile")
    commands = parser.add_subparsers(dest="action", required=True)
    apply = commands.add_parser("apply", help="create or update an endpoint to match a file")
    apply.add_argument("config", help="the endpoint config (JSON or YAML)")
    apply.add_argument("--name", help="endpoint name (default: the file's name field)")
    apply.add_argument("--dry-run", action="store_true", help="print the requests, send none")
    apply.add_argument("--no-wait", action="store_true", help="do not wait until ready")
    apply.add_argument("--timeout", type=float, default=1200.0, help="seconds to wait")
    apply.add_argument("--force", action="store_true", help="send the config even if equal")
    for name in ("get", "delete"):
        commands.add_parser(name, help=f"{name} an endpoint").add_argument("name")
    commands.add_parser("list", help="list the workspace's endpoints")
    parser.set_defaults(run=_run_endpoints)


def _run_endpoints(args: argparse.Namespace) -> int:
    from extmodels_integrations.endpoints import EndpointsClient

    with EndpointsClient(host=args.host, profile=args.profile) as client:
        if args.action == "apply":
            result = client.apply(
                args.config,
                name=args.name,
                dry_run=args.dry_run,
                wait=not args.no_wait,
                timeout=args.timeout,
                force=args.force,
            )
            print(result)
            if args.dry_run and result.requests():
                print(json.dumps(result.requests(), indent=2))
        elif args.action == "get":
            print(json.dumps(client.get(args.name), indent=2))
        elif args.action == "list":
            for endpoint in client.list():
                state = endpoint.get("state") or {}
                print(f"{endpoint.get('name')}\t{state.get('ready')}\t{state.get('config_update')}")
        else:
            client.delete(args.name)
            print(f"endpoint '{args.name}': deleted")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="extmodels")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _endpoints_parser(subparsers)
    # Cheap: the gateway's parser module imports uvicorn and Starlette only when serve runs.
    from extmodels_integrations.gateway._cli import add_serve_parser, run

    add_serve_parser(subparsers).set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; errors of this package print as one line and return 1."""
    from extmodels_integrations._exceptions import ExternalModelError

    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except ExternalModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
