"""The ``symconv`` command line: one subcommand per module in ``symconv.commands``.

Each command module defines ``HELP`` (one line), ``configure(parser)`` and ``run(args) -> int``
and keeps framework imports inside ``run``, so that ``symconv which`` stays as light as
``import sympy, numpy``.  Bad input (a SymconvError) is printed as one line, exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import re
import sys

from .errors import SymconvError, shorten

COMMANDS = ("which", "explain", "check", "infer", "latex", "prove", "trace", "port", "sweep", "matrix")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, as for every other bad input
        self.exit(2, f"{self.prog}: error: {shorten(message, 400)}\n")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = _Parser(prog="symconv", description="Which input pixel does this number come from? "
                     "Exact convolution provenance, symbolic and checked against real frameworks.")
    parser.add_argument("--version", action="version", version=f"symconv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        module_name = f"symconv.commands.{name}"
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        module.configure(command)
        command.set_defaults(run=module.run)
    return parser


# A value that starts with a minus sign and a digit or dot: -1, -1:0,0:-1, -.5, -1,2.
_NEGATIVE_VALUE = re.compile(r"-[\d.]")


def _value_options(parser: argparse.ArgumentParser) -> set:
    """Every option string (of the parser and its subcommands) that takes one value."""
    options, todo = set(), [parser]
    while todo:
        current = todo.pop()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend(action.choices.values())
            elif action.option_strings and action.nargs is None:
                options.update(action.option_strings)
    return options


def join_negative_values(parser: argparse.ArgumentParser, argv: list) -> list:
    """``--padding -1:0`` as ``--padding=-1:0``: argparse would read a value that starts with a
    minus sign as an option unless it is a plain number."""
    takes_value = _value_options(parser)
    out, i = [], 0
    while i < len(argv):
        token = argv[i]
        if token in takes_value and i + 1 < len(argv) and _NEGATIVE_VALUE.match(argv[i + 1]):
            out.append(f"{token}={argv[i + 1]}")
            i += 2
            continue
        out.append(token)
        i += 1
    return out


def main(argv=None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(join_negative_values(parser, argv))
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.run(args)
    except SymconvError as err:
        print(f"symconv: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("symconv: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): the output is incomplete, so this is no success.
        # Point stdout at /dev/null so that the interpreter's final flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
