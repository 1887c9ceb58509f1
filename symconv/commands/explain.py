"""symconv explain: every entry of y, dk and dx of a small case as a formula and a value."""

import json

from ..cli import add_spec_arguments, spec_from_args
from .check import add_backend_arguments, backend_options

HELP = "the whole story of a small case: pads, every entry's formula and value, a backend's numbers"


def configure(parser):
    add_spec_arguments(parser)
    add_backend_arguments(parser, required=False)
    values = parser.add_argument_group("tensors (flat, row-major in the spec's layout; one value fills all)")
    values.add_argument("--x", metavar="V,V,...", default=None, help="input values (default 1, 2, 3, ...)")
    values.add_argument("--k", metavar="V,V,...", default=None, help="kernel values (default all ones)")
    values.add_argument("--g", metavar="V,V,...", default=None, help="upstream gradient dL/dy (default all ones)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    from ..explanation import explain
    spec = spec_from_args(args)
    options = backend_options(args) if (args.backend or args.impl) else {}
    story = explain(spec, x=args.x, k=args.k, g=args.g, **options)
    print(json.dumps(story.to_json(), allow_nan=False) if args.json else story.text())
    if story.backend is None:
        return 0
    return 0 if all(r["agrees"] is not False and r["status"] != "error" for r in story.backend["results"]) else 1
