"""symconv latex: a standalone LaTeX derivation of one convolution, every step checked."""

from .arguments import add_spec_arguments, spec_from_args

HELP = "write a LaTeX derivation (padding, forward, chain rule, closed forms, entries), every step checked"
EPILOG = """examples:
  symconv latex conv2d --input 1x3x3x1 --kernel 1x1x1x1 --strides 3 --padding SAME --convention legacy_eigen \
      --x 1,2,3,4,5,6,7,8,0 --k 10 --g 100 -o founding.tex
  symconv latex conv2d --input 1x224x224x3 --kernel 7x7x3x64 --strides 2 --padding SAME --entry 'dk[0,0,1,5]' \
      -o stem.tex
values (--x, --k, --g) without --entry: every entry of a small case (at most 32 entries of y, dk and dx)"""
# Values without --entry show every entry of y, dk and dx up to this many.
ALL_ENTRIES = 32


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
    parser.epilog = EPILOG


def every_entry(spec) -> list:
    """Every entry of y, dk and dx of a small case (values given, no --entry), or advice."""
    import math

    from ..errors import SymconvError
    from ..model.notation import all_indices
    from ..model.spec import require_nonempty
    require_nonempty(spec)
    count = sum(math.prod(spec.shape_of(t)) for t in ("y", "dk", "dx"))
    if count > ALL_ENTRIES:
        raise SymconvError(f"--x, --k and --g give the values of the entries a document shows, and no --entry is "
                           f"given: this {spec.op} has {count} entries of y, dk and dx, more than the {ALL_ENTRIES} "
                           f"shown without asking; add the ones you want, e.g. --entry "
                           f"'y[{','.join('0' * len(spec.y_shape))}]' (repeatable)")
    return [f"{t}[{','.join(map(str, i))}]" for t in ("y", "dk", "dx") for i in all_indices(spec.shape_of(t))]


def run(args) -> int:
    from ..latex import build_spec_document
    from ..progress import Ticker
    from ..show.outputs import check_path, is_stdout, write_text
    check_path(args.output, "--output", "document.tex")  # before the document is derived, not after
    spec = spec_from_args(args)
    entries = args.entry
    if not entries and any(v is not None for v in (args.x, args.k, args.g)):
        entries = every_entry(spec)
    compare = args.compare_convention
    if args.no_compare:
        if compare:
            from ..errors import SymconvError
            raise SymconvError("--no-compare and --compare-convention exclude each other")
        compare = spec.convention  # comparing with itself adds nothing
    with Ticker("deriving and checking the document"):
        doc = build_spec_document(spec, entries, {"x": args.x, "k": args.k, "g": args.g}, compare, args.title)
        tex = doc.render()
    write_text(args.output, tex, "--output", "document.tex")
    if not is_stdout(args.output):
        print(f"wrote {args.output}: {doc.summary()}")
    return 0
