"""The options every command shares: a convolution's spec, read into a ConvSpec."""

from __future__ import annotations

import argparse


def add_spec_arguments(parser: argparse.ArgumentParser, op: bool = True) -> None:
    """The options that describe a convolution (shared by every command)."""
    from ..model.conventions import DEFAULT
    from ..model.spec import OPS
    if op:
        parser.add_argument("op", metavar="OP", help=f"one of {', '.join(OPS)}")
    group = parser.add_argument_group("convolution")
    group.add_argument("--input", metavar="SHAPE", required=True, help="input shape in the data format, e.g. 1x3x3x1")
    group.add_argument("--kernel", metavar="SHAPE", required=True,
                       help="kernel shape in the kernel layout, e.g. 3x3x1x8 (TensorFlow's: spatial..., in, out)")
    group.add_argument("--kernel-layout", metavar="L", default=None,
                       help="the kernel's layout: letters such as HWIO (the default), OIHW, IOHW, OIW or any "
                            "permutation, or tf or torch (depthwise: HWCM, or OIHW with I = 1)")
    group.add_argument("--strides", metavar="S", default="1", help="one integer or one per spatial axis: 2 or 2,1")
    group.add_argument("--dilations", metavar="D", default="1", help="one integer or one per spatial axis")
    group.add_argument("--padding", metavar="P", default="VALID",
                       help="SAME, VALID or before:after per spatial axis, e.g. 1:2,0:1 (negative crops)")
    group.add_argument("--convention", metavar="C", default=DEFAULT,
                       help=f"how SAME is resolved: tf, same_lower, legacy_eigen, torch (default {DEFAULT})")
    group.add_argument("--data-format", metavar="F", default=None,
                       help="NWC/NCW, NHWC/NCHW or NDHWC/NCDHW (default channels last)")
    group.add_argument("--groups", metavar="G", default="1", help="grouped convolution (default 1)")
    group.add_argument("--output-shape", metavar="SHAPE", default=None,
                       help="output shape of a transposed convolution (default as Keras)")


def spec_from_args(args):
    from ..model.spec import ConvSpec
    return ConvSpec(args.op, args.input, args.kernel, strides=args.strides, dilations=args.dilations,
                    padding=args.padding, convention=args.convention, data_format=args.data_format,
                    groups=args.groups, output_shape_request=args.output_shape, kernel_layout=args.kernel_layout)


def add_report_arguments(parser, picture: str) -> None:
    """``--json`` and ``--png FILE``, a picture of ``picture``, as every answering command takes them."""
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--png", metavar="FILE", default=None,
                        help=f"also write a picture of {picture} (matplotlib: the plot extra); .png, .svg or .pdf "
                             f"by the suffix, - for standard output")


def report_stream(args, *others):
    """Where a command prints its report (``symconv.show.outputs.report_stream``), once the
    ``--png`` path has been checked: before any work, not after it."""
    from ..show.outputs import check_picture_path
    from ..show.outputs import report_stream as stream
    if args.png is not None:
        check_picture_path(args.png, "--png")
    return stream(("--png", args.png), *others)
