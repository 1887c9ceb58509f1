"""symconv port: one layer as the exact equivalent code in another framework, verified."""

import json

from .arguments import add_spec_arguments

HELP = "write a layer as the exact equivalent code in another framework, and verify it by running both"
EPILOG = """examples:
  symconv port conv2d --input 1x224x224x3 --kernel 7x7x3x64 --strides 2 --padding SAME --from tf --to torch
  symconv port conv2d --input 1x224x224x3 --kernel 7x7x3x64 --strides 2 --padding SAME --from keras --to torch --as module
  symconv port conv1d --input 1x3x10 --kernel 4x3x3 --strides 2 --padding SAME --from torch --to onnx --no-verify

The layer's options are in the --from framework's terms: its data format and kernel layout are the
defaults (tf, keras, jax: channels last, HWIO; torch, onnx: channels first, OIHW); Keras's 'same' is
TensorFlow's SAME.  --as module writes a torch.nn.Module, Keras layers (--to tf or keras) or a Flax
module (--to jax); --as function (the default; Keras: layers) writes layer(x, weight).
  symconv port conv2d --input 1x8x8x3 --kernel 3x3x3x4 --padding SAME --from tf --to torch --deploy
exit status: 0 written (and, where both frameworks are installed, verified); 1 the two frameworks
differ, or a deployment path (--deploy) differs from the model; 3 the source framework failed on the case;
2 bad usage"""
DEFAULT_LAYOUTS = {"tf": (0, "tf"), "keras": (0, "tf"), "jax": (0, "tf"), "torch": (1, "torch"), "onnx": (1, "torch")}


def configure(parser):
    from ..porting import FRAMEWORKS
    add_spec_arguments(parser)
    group = parser.add_argument_group("frameworks")
    group.add_argument("--from", dest="source", metavar="FW", default="tf",
                       help=f"the framework the layer comes from: {', '.join(FRAMEWORKS)} (default tf)")
    group.add_argument("--to", dest="target", metavar="FW", required=True,
                       help=f"the framework to write it for: {', '.join(FRAMEWORKS)}")
    group.add_argument("--as", dest="form", metavar="FORM", default=None,
                       help="function (layer(x, weight); the default) or module (a torch.nn.Module, Keras layers, a "
                            "Flax module, each built from the source's kernel)")
    verify = group.add_mutually_exclusive_group()
    verify.add_argument("--verify", dest="verify", action="store_true", default=None,
                        help="run both frameworks on exact integer probes and compare every output entry "
                             "(default: when both are installed)")
    verify.add_argument("--no-verify", dest="verify", action="store_false", help="print the code alone")
    group.add_argument("--deploy", action="store_true",
                       help="also run the layer through the target's export and conversion paths (tf: LiteRT, "
                            "tf2onnx; torch: torch.compile, its ONNX exporter, OpenVINO; onnx: OpenVINO; jax: jit) "
                            "and check each exactly against the model")
    parser.add_argument("--seed", type=int, default=0, help="seed of the probes (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.epilog = EPILOG


def run(args) -> int:
    from ..errors import SymconvError
    from ..model.layout import kernel_layout_letters
    from ..model.spec import DATA_FORMATS, OPS, ConvSpec
    from ..model.values import random_generator
    from ..porting import framework, port
    source = framework(args.source, "from")
    random_generator(args.seed)  # refuse a bad seed before anything runs
    fmt_index, kernel_layout = DEFAULT_LAYOUTS[source.name]
    data_format = args.data_format
    if data_format is None and args.op in OPS:
        data_format = DATA_FORMATS[OPS[args.op].ndim][fmt_index]
    try:
        spec = ConvSpec(args.op, args.input, args.kernel, strides=args.strides, dilations=args.dilations,
                        padding=args.padding, convention=args.convention, data_format=data_format,
                        groups=args.groups, output_shape_request=args.output_shape,
                        kernel_layout=args.kernel_layout or kernel_layout)
    except SymconvError as err:
        if args.op in OPS and args.data_format is None and args.kernel_layout is None:
            op = OPS[args.op]  # the shapes were read in --from's layouts: say which
            letters = kernel_layout_letters(kernel_layout, args.op, op.ndim, op.kind)
            raise SymconvError(f"{err} (shapes are read in --from {source.name}'s layouts: input {data_format}, "
                               f"kernel {letters}; --data-format and --kernel-layout say otherwise)") from None
        raise
    ported = port(spec, to=args.target, source=source.name, verify=args.verify, seed=args.seed, form=args.form,
                  deploy=args.deploy)
    print(json.dumps(ported.to_json()) if args.json else ported.text())
    return ported.exit_status
