"""symconv prove: prove or check a claim about y, dk or dx, or print what symconv proves.

With ``--claim`` the claim (syntax: ``symconv.claims``) is proven for all sizes, checked up to
a bound, or refuted with the smallest counterexample; with spec options it is checked on
every entry of that convolution.  Without ``--claim`` it prints the facts report: which facts
are proven for all sizes and which are only checked up to a bound.  Exit status: 0 proven or
checked, 1 refuted (or a fact failed), 2 bad input.
"""

import json

HELP = "prove, check or refute a claim about y, dk or dx; without --claim, the facts report"
EPILOG = """examples:
  symconv prove --claim "dk[a] = sum(i=0..OH-1) g[i]*x[S*i+D*a-P]"
  symconv prove conv2d --input 1x5x5x1 --kernel 3x3x1x1 --strides 2 --padding SAME \
      --claim "dk[0,0,0,0] = sum(i=0..2) sum(j=0..2) g[0,i,j,0]*x[0,2*i-1,2*j-1,0]"
  symconv prove --steps
(the last prints the facts report with every derivation step: about a minute)
exit status: 0 proven or checked; 1 refuted (or a fact failed); 2 bad input"""


def configure(parser):
    from ..model.conventions import DEFAULT
    from ..model.spec import OPS
    parser.add_argument("op", metavar="OP", nargs="?", default=None,
                        help=f"check the claim on one convolution: one of {', '.join(OPS)} (with --input, --kernel)")
    parser.add_argument("--claim", metavar="TEXT", default=None,
                        help="e.g. \"dk[a] = sum(i=0..OH-1) g[i]*x[S*i+D*a-P]\" (grammar: python -m pydoc "
                             "symconv.proof.claims)")
    parser.add_argument("--symbolic", action="store_true",
                        help="claims about every convolution (the default without OP): a proof for all sizes "
                             "and a bounded check")
    parser.add_argument("--bound", metavar="N", type=int, default=None,
                        help="check every size up to N (claims, default: 4 for 1-D, 2 for 2-D; with full indices "
                             "2 and 1). Facts report: 1-D up to N, the other families scaled down (default: 1-D 3, "
                             "2-D 2 with pads -1..1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--steps", action="store_true", help="facts report: print every derivation step")
    parser.add_argument("--latex", metavar="FILE.tex", default=None,
                        help="facts report: also write the symbolic-size derivation document (- for standard "
                             "output; the report then goes to standard error)")
    group = parser.add_argument_group("convolution (only with OP)")
    group.add_argument("--input", metavar="SHAPE", help="input shape in the data format, e.g. 1x3x3x1")
    group.add_argument("--kernel", metavar="SHAPE", help="kernel shape in the kernel layout, e.g. 3x3x1x8")
    group.add_argument("--kernel-layout", metavar="L", default=None,
                       help="the kernel's layout: HWIO (the default), OIHW, any permutation, tf or torch")
    group.add_argument("--strides", metavar="S", default="1")
    group.add_argument("--dilations", metavar="D", default="1")
    group.add_argument("--padding", metavar="P", default="VALID", help="SAME, VALID or before:after per axis")
    group.add_argument("--convention", metavar="C", default=DEFAULT, help=f"how SAME is resolved (default {DEFAULT})")
    group.add_argument("--data-format", metavar="F", default=None)
    group.add_argument("--groups", metavar="G", default="1")
    group.add_argument("--output-shape", metavar="SHAPE", default=None)
    parser.epilog = EPILOG


def _spec(args):
    from ..errors import SymconvError
    given = [name for name in ("input", "kernel") if getattr(args, name) is not None]
    if args.op is None:
        if given:
            raise SymconvError(f"--{given[0]} needs OP (e.g. conv2d) before it")
        return None
    if args.symbolic:
        raise SymconvError(f"give either OP ({args.op}) or --symbolic, not both")
    if len(given) < 2:
        raise SymconvError(f"{args.op} needs --input and --kernel")
    from .arguments import spec_from_args
    return spec_from_args(args)


def run(args) -> int:
    from .. import proof
    from ..errors import SymconvError
    from ..progress import Ticker
    if args.bound is not None and args.bound < 1:
        raise SymconvError(f"--bound must be a positive integer, got {args.bound}")
    spec = _spec(args)
    if args.claim is None:
        if spec is not None:
            raise SymconvError("a convolution (OP) is only used with --claim")
        from ..show.outputs import check_path, report_stream, write_text
        if args.latex is not None:
            check_path(args.latex, "--latex", "facts.tex")  # before the proofs run, not after them
        out = report_stream(("--latex", args.latex))
        with Ticker("proving and checking the facts"):
            report = proof.facts(args.bound)
        if args.latex is not None:
            from ..latex import generic_document
            write_text(args.latex, generic_document(report), "--latex", "facts.tex")
        print(json.dumps(report.to_json()) if args.json else report.text(steps=args.steps), file=out)
        return 0 if report.ok else 1
    if args.steps or args.latex is not None:
        raise SymconvError("--steps and --latex belong to the facts report (without --claim)")
    if spec is not None and args.bound is not None:
        raise SymconvError("--bound applies to --symbolic claims; with OP every entry of that convolution is checked")
    with Ticker("proving and checking the claim"):
        result = proof.prove_claim(args.claim, spec, args.bound)
    print(json.dumps(result.to_json()) if args.json else result.text())
    return 1 if result.status == "refuted" else 0
