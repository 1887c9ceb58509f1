"""symconv which: the exact terms of one entry of y, dk or dx, or the entries that read one of x, k, g."""

import json

from .arguments import add_report_arguments, add_spec_arguments, report_stream, spec_from_args

HELP = "which entries of x, k and g one entry of y, dk or dx multiplies (or, with --reads, the reverse)"
EPILOG = """examples:
  symconv which conv2d --input 1x3x3x1 --kernel 1x1x1x1 --strides 3 --padding SAME --convention legacy_eigen \\
      --entry 'y[0,0,0,0]'
  symconv which conv2d --input 1x224x224x3 --kernel 7x7x3x64 --strides 2 --padding SAME --entry 'dk[0,0,1,5]' \\
      --png dk.png
  symconv which conv2d --input 1x224x224x3 --kernel 7x7x3x64 --strides 2 --padding SAME --reads 'x[0,5,5,0]'"""


def configure(parser):
    add_spec_arguments(parser)
    ask = parser.add_argument_group("question (at least one)")
    ask.add_argument("--entry", metavar="ENTRY", action="append", default=[],
                     help="y[n,i,j,c], dk[a,b,ci,co] or dx[n,h,w,c] in the spec's layouts; "
                          "a bare y, dk or dx means every entry (repeatable)")
    ask.add_argument("--reads", metavar="ENTRY", action="append", default=[],
                     help="x[n,h,w,c], k[a,b,ci,co] or g[n,i,j,c]: which entries of y, dk and dx read it "
                          "(repeatable)")
    add_report_arguments(parser, "the pixels read")
    parser.epilog = EPILOG


def run(args) -> int:
    from ..errors import SymconvError
    from ..model.notation import spec_header
    from ..show.outputs import described
    from ..symbolic.query import BARE_ENTRY_LIMIT, TensorAnswer, which
    out = report_stream(args)
    spec = spec_from_args(args)
    if not args.entry and not args.reads:
        raise SymconvError("ask for --entry ENTRY (e.g. --entry 'y[0,0,0,0]') or --reads ENTRY "
                           "(e.g. --reads 'x[0,0,0,0]')")
    if len(args.entry) + len(args.reads) > BARE_ENTRY_LIMIT:
        raise SymconvError(f"--entry and --reads are given {len(args.entry) + len(args.reads)} times, more than the "
                           f"{BARE_ENTRY_LIMIT} entries listed one by one")
    answers = [which(spec, entry) for entry in args.entry]
    reverse = [which(spec, reads=entry) for entry in args.reads]
    picture = _picture(spec, answers, reverse, args.png) if args.png else None
    if args.json:
        objs = [a.to_json() for a in answers]
        if len(objs) + len(reverse) > 1 or reverse and objs:
            entries = [e for a, o in zip(answers, objs) for e in (o["entries"] if isinstance(a, TensorAnswer) else [o])]
            obj = {"entries": entries, "pads": [list(p) for p in spec.pads], "output_shape": list(spec.y_shape)}
            if reverse:
                obj["reads"] = [r.to_json() for r in reverse]
            objs = [obj]
        elif reverse:
            objs = [reverse[0].to_json()]
        print(json.dumps(objs[0]), file=out)
        return 0
    print(spec_header(spec), file=out)
    for answer in answers + reverse:
        print(answer.text(), file=out)
    if picture is not None:
        print(f"wrote picture {described(args.png)}", file=out)
    return 0


def _picture(spec, answers, reverse, path):
    """One picture of the entries asked (every entry of a bare tensor counts), or of the first
    --reads when only those are asked."""
    from ..show import plot
    from ..symbolic.query import TensorAnswer
    single = [a for answer in answers for a in (answer.answers if isinstance(answer, TensorAnswer) else [answer])]
    picture = plot.answers_picture(single) if single else plot.readers_picture(reverse[0])
    picture.save(path, "--png")
    return picture
