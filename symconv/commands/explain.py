"""symconv explain: entries of y, dk and dx as formulas and values (every entry of a small case)."""

import json

from .arguments import add_report_arguments, add_spec_arguments, report_stream, spec_from_args
from .check import add_backend_arguments, backend_options

HELP = "the whole story of a small case: pads, every entry's formula and value, a backend's numbers"
EPILOG = """examples:
  symconv explain conv2d --input 1x3x3x1 --kernel 1x1x1x1 --strides 3 --padding SAME --convention legacy_eigen \\
      --x 1,2,3,4,5,6,7,8,0 --k 10 --g 100 --png founding.png
  symconv explain conv2d --input 1x224x224x3 --kernel 7x7x3x64 --strides 2 --padding SAME \\
      --entry 'y[0,0,0,5]' --entry 'dk[0,0,1,5]' --backend tf
exit status: 0, or 1 when a backend's numbers differ from the model's (or it fails); 2 bad usage"""


def configure(parser):
    add_spec_arguments(parser)
    add_backend_arguments(parser, required=False)
    values = parser.add_argument_group("tensors (flat, row-major in the spec's layout; one value fills all)")
    values.add_argument("--x", metavar="V,V,...", default=None, help="input values (default 1, 2, 3, ...)")
    values.add_argument("--k", metavar="V,V,...", default=None, help="kernel values (default all ones)")
    values.add_argument("--g", metavar="V,V,...", default=None, help="upstream gradient dL/dy (default all ones)")
    parser.add_argument("--entry", metavar="ENTRY", action="append", default=None,
                        help="explain this entry only, e.g. y[0,0,0,0] or dk[0,0,1,5], of a layer of any size "
                             "(repeatable; default: every entry of a small case)")
    add_report_arguments(parser, "the first entries' reads under each reading")
    parser.epilog = EPILOG


def run(args) -> int:
    from ..checks.explanation import explain
    from ..progress import Ticker
    from ..show.outputs import described
    out = report_stream(args)
    spec = spec_from_args(args)
    options = backend_options(args) if (args.backend or args.impl) else {}
    with Ticker("explaining"):
        story = explain(spec, x=args.x, k=args.k, g=args.g, entries=args.entry, **options)
        if args.png is not None:
            story.plot().save(args.png, "--png")
    print(json.dumps(story.to_json(), allow_nan=False) if args.json else story.text(), file=out)
    if args.png is not None and not args.json:
        print(f"wrote picture {described(args.png)}", file=out)
    if story.backend is None:
        return 0
    return 0 if all(r["agrees"] is not False and r["status"] != "error" for r in story.backend["results"]) else 1
