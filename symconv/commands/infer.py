"""symconv infer: the padding each quantity of an implementation actually used."""

import json

from .arguments import add_spec_arguments, spec_from_args
from .check import add_backend_arguments, backend_options

HELP = "infer, from observations alone, the padding a backend's forward and gradients use"
EPILOG = """examples:
  symconv infer conv2d --input 1x3x3x1 --kernel 1x1x1x1 --strides 3 --padding SAME --impl examples/founding_bug.py
  symconv infer conv2d --input 1x7x7x1 --kernel 3x3x1x1 --strides 2 --padding SAME --backend onnxruntime
exit status: 0 every quantity was read in full and all use the same padding; 1 they disagree, or a quantity failed
or returned garbage, or (--expect model) a quantity was read with pads other than the model's; 3 nothing disagrees
but some quantity could not be read in full (skipped, refused, outputs that fit no padding, an axis that reads only
padding); 2 bad usage"""


def configure(parser):
    add_spec_arguments(parser)
    add_backend_arguments(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of the random ids (default 0)")
    parser.add_argument("--expect", choices=["model"], default=None,
                        help="model: exit 1 when any quantity's padding differs from the model's (a CI gate); "
                             "without it, pads that differ from the model's but agree with each other exit 0")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.epilog = EPILOG


def run(args) -> int:
    from ..checks.inference import infer
    report = infer(spec_from_args(args), seed=args.seed, expect=args.expect, **backend_options(args))
    print(json.dumps(report.to_json()) if args.json else report.text())
    return report.exit_status
