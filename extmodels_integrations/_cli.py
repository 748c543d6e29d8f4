"""The ``extmodels`` command: one entry point whose subcommands live with the layer they drive
(``extmodels serve`` in ``gateway``, ``extmodels endpoints`` in ``endpoints``). Each layer's
module is imported only when its subcommand is named, so ``extmodels --help`` stays quick and
needs no extra installed."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

#: subcommand -> (module offering ``register(parser)`` and ``run(args) -> int``, one-line help,
#: the extra it needs).
COMMANDS: dict[str, tuple[str, str, str | None]] = {}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``extmodels`` with ``argv`` (default: the process arguments); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="extmodels", description="External-model endpoints: serve them and manage them."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text, _extra) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv)  # prints usage / the unknown-command error and exits
        return 2
    module_name, help_text, extra = COMMANDS[argv[0]]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f': pip install "extmodels-integrations[{extra}]"' if extra else ""
        print(f"extmodels {argv[0]}: {exc}{hint}", file=sys.stderr)
        return 2
    command = argparse.ArgumentParser(prog=f"extmodels {argv[0]}", description=help_text)
    module.register(command)
    args = command.parse_args(argv[1:])
    return int(module.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
