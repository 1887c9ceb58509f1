"""symconv which: the exact terms of one entry of y, dk or dx."""

import json

from ..cli import add_spec_arguments, spec_from_args

HELP = "which entries of x, k and g one entry of y, dk or dx multiplies"


def configure(parser):
    add_spec_arguments(parser)
    parser.add_argument("--entry", metavar="ENTRY", action="append", required=True,
                        help="y[n,i,j,c], dk[a,b,ci,co] or dx[n,h,w,c] in the spec's layouts; "
                             "a bare y, dk or dx means every entry (repeatable)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    from ..errors import SymconvError
    from ..query import BARE_ENTRY_LIMIT, TensorAnswer, which
    from ..render import spec_header
    spec = spec_from_args(args)
    if len(args.entry) > BARE_ENTRY_LIMIT:
        raise SymconvError(f"--entry is given {len(args.entry)} times, more than the {BARE_ENTRY_LIMIT} entries listed "
                           f"one by one")
    answers = [which(spec, entry) for entry in args.entry]
    if args.json:
        objs = [a.to_json() for a in answers]
        if len(objs) > 1:
            entries = [e for a, o in zip(answers, objs) for e in (o["entries"] if isinstance(a, TensorAnswer) else [o])]
            objs = [{"entries": entries, "pads": [list(p) for p in spec.pads], "output_shape": list(spec.y_shape)}]
        print(json.dumps(objs[0]))
        return 0
    print(spec_header(spec))
    for answer in answers:
        print(answer.text())
    return 0
