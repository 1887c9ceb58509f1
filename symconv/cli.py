"""The ``symconv`` command line: one subcommand per module in ``symconv.commands``.

Each command module defines ``HELP`` (one line), ``configure(parser)`` and ``run(args) -> int``
and keeps framework imports inside ``run``, so that ``symconv which`` stays as light as
``import sympy, numpy``.  Bad input (a SymconvError) is printed as one line, exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from .errors import SymconvError

COMMANDS = ("which", "explain", "check", "infer", "latex", "prove", "trace")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, as for every other bad input
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_spec_arguments(parser: argparse.ArgumentParser, op: bool = True) -> None:
    """The options that describe a convolution (shared by every command)."""
    from .spec import OPS
    if op:
        parser.add_argument("op", metavar="OP", help=f"one of {', '.join(OPS)}")
    group = parser.add_argument_group("convolution")
    group.add_argument("--input", metavar="SHAPE", required=True, help="input shape in the data format, e.g. 1x3x3x1")
    group.add_argument("--kernel", metavar="SHAPE", required=True,
                       help="kernel shape in TensorFlow's layout, e.g. 3x3x1x8 (spatial..., in, out)")
    group.add_argument("--strides", metavar="S", default="1", help="one integer or one per spatial axis: 2 or 2,1")
    group.add_argument("--dilations", metavar="D", default="1", help="one integer or one per spatial axis")
    group.add_argument("--padding", metavar="P", default="VALID",
                       help="SAME, VALID or before:after per spatial axis, e.g. 1:2,0:1 (negative crops)")
    group.add_argument("--convention", metavar="C", default="tf",
                       help="how SAME is resolved: tf, same_lower, legacy_eigen, torch (default tf)")
    group.add_argument("--data-format", metavar="F", default=None,
                       help="NWC/NCW, NHWC/NCHW or NDHWC/NCDHW (default channels last)")
    group.add_argument("--groups", metavar="G", default="1", help="grouped convolution (default 1)")
    group.add_argument("--output-shape", metavar="SHAPE", default=None,
                       help="output shape of a transposed convolution (default as Keras)")


def spec_from_args(args):
    from .spec import ConvSpec
    return ConvSpec(args.op, args.input, args.kernel, strides=args.strides, dilations=args.dilations,
                    padding=args.padding, convention=args.convention, data_format=args.data_format,
                    groups=args.groups, output_shape_request=args.output_shape)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symconv", description="Which input pixel does this number come from? "
                     "Exact convolution provenance, symbolic and checked against real frameworks.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        module_name = f"symconv.commands.{name}"
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.run(args)
    except SymconvError as err:
        print(f"symconv: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
