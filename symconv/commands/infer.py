"""symconv infer: the padding each quantity of an implementation actually used."""

import json

from ..cli import add_spec_arguments, spec_from_args
from .check import add_backend_arguments, backend_options

HELP = "infer, from observations alone, the padding a backend's forward and gradients use"


def configure(parser):
    add_spec_arguments(parser)
    add_backend_arguments(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of the random ids (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    from ..check import infer
    report = infer(spec_from_args(args), seed=args.seed, **backend_options(args))
    print(json.dumps(report.to_json()) if args.json else report.text())
    failed = any(q.status == "error" for q in report.quantities.values())
    return 0 if report.consistent and not failed else 1
