"""symconv latex: a standalone LaTeX derivation of one convolution, every step checked."""

from ..cli import add_spec_arguments, spec_from_args, write_output

HELP = "write a LaTeX derivation (padding, forward, chain rule, closed forms, entries), every step checked"


def configure(parser):
    add_spec_arguments(parser)
    parser.add_argument("--entry", metavar="ENTRY", action="append", default=[],
                        help="an entry to instantiate, e.g. y[0,0,0,0], dk[0,0,0,0] or dx[0,1,1,0] (repeatable)")
    for tensor, meaning in (("x", "input"), ("k", "kernel"), ("g", "upstream gradient dL/dy")):
        parser.add_argument(f"--{tensor}", metavar="VALUES", default=None,
                            help=f"integer values of the {meaning}, flat and row-major in the spec's layout, "
                                 f"e.g. 1,2,3,4")
    parser.add_argument("--compare-convention", metavar="C", default=None,
                        help="show the reading under a second SAME convention side by side (default: tf "
                             "whenever the spec's convention is another)")
    parser.add_argument("--no-compare", action="store_true", help="never add the side-by-side reading")
    parser.add_argument("--title", metavar="TEXT", default=None, help="the document's title")
    parser.add_argument("-o", "--output", metavar="FILE.tex", default="-",
                        help="where to write the document (default: standard output)")


def run(args) -> int:
    from ..latex import build_spec_document
    spec = spec_from_args(args)
    compare = args.compare_convention
    if args.no_compare:
        if compare:
            from ..errors import SymconvError
            raise SymconvError("--no-compare and --compare-convention exclude each other")
        compare = spec.convention  # comparing with itself adds nothing
    doc = build_spec_document(spec, args.entry, {"x": args.x, "k": args.k, "g": args.g}, compare, args.title)
    tex = doc.render()
    if args.output == "-":
        print(tex, end="")
    else:
        write_output(args.output, tex)
        print(f"wrote {args.output}: {doc.summary()}")
    return 0
