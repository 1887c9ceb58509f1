"""symconv sweep: every op x padding mode x convention x layout x degenerate shape against one
implementation, each finding shrunk to the smallest `symconv check` command that shows it."""

from ..show.outputs import write_text
from .check import add_backend_arguments

HELP = "run the sweep (ops x paddings x conventions x layouts x degenerate shapes) against a backend or --impl"
EPILOG = """examples:
  symconv sweep --backend onnxruntime --threads 1 --ops conv1d,conv2d
  symconv sweep --backend torch --threads 1 --size full --workers 2 --json sweep.json
  symconv sweep --impl my_conv.py --ops conv2d --layouts NHWC --groups 1

exit status: 0 something was checked and nothing found; 1 a finding (wrong values, a wrong shape, garbage, a crash,
an exception raised by your --impl code, an output that changed between calls, an exception from symconv's adapter);
3 nothing was checked (every case refused, skipped or left out by the filters); 2 bad usage"""


def configure(parser):
    add_backend_arguments(parser)
    group = parser.add_argument_group("sweep")
    group.add_argument("--ops", metavar="OP,...", default=None,
                       help="ops to sweep, e.g. conv2d,conv2d_transpose (default every op)")
    for name, example in (("layouts", "NHWC,NCHW"), ("kernel-layouts", "HWIO"), ("paddings", "SAME,VALID,explicit"),
                          ("conventions", "tf,same_lower"), ("groups", "1")):
        group.add_argument(f"--{name}", metavar=example, default=None,
                           help=f"only the cases with these {name.replace('-', ' ')} (comma-separated; an --impl "
                                f"file may declare them in SYMCONV_SUPPORTS)")
    group.add_argument("--repeat", metavar="N", default=1,
                       help="probes each case calls again on the same inputs: an output that changes is a finding "
                            "(default 1)")
    group.add_argument("--size", choices=("quick", "full"), default="quick",
                       help="quick: every op x layout x padding once, degenerate shapes in turn, channel cases (154 cases); "
                            "full: every geometry with batch, channel and group counts (about 3,800)")
    group.add_argument("--workers", metavar="N", default=None,
                       help="processes running cases in parallel, each with its own backend worker (default one "
                            "per core; at most 4 per core)")
    group.add_argument("--scheduler", metavar="tcp://HOST:PORT", default=None,
                       help="run the cases on a Dask cluster (the dask extra) instead of local processes")
    group.add_argument("--no-shrink", action="store_true",
                       help="report findings as found, without shrinking them to the smallest failing case")
    group.add_argument("--seed", type=int, default=0, help="seed of the random probes (default 0)")
    group.add_argument("--json", metavar="FILE", default=None, help="also write the whole report as JSON to FILE")
    parser.epilog = EPILOG


def run(args) -> int:
    from ..backends import variant_from_args
    from ..errors import SymconvError
    from ..model.values import timeout_seconds
    from ..show.outputs import check_path, report_stream
    from ..sweeps.run import sweep
    if args.json is not None:   # before the sweep, not after it
        check_path(args.json, "--json", "sweep.json")
    if args.in_process and args.timeout is not None:
        raise SymconvError("--timeout stops a call in the child process: it cannot be used with --in-process")
    out = report_stream(("--json", args.json))
    report = sweep(args.backend, impl=args.impl, variant=variant_from_args(args), grad_path=args.grad_path,
                   ops=args.ops, size=args.size, workers=args.workers, scheduler=args.scheduler,
                   shrink=not args.no_shrink, seed=args.seed, timeout=timeout_seconds(args.timeout),
                   isolate=not args.in_process, layouts=args.layouts, kernel_layouts=args.kernel_layouts,
                   paddings=args.paddings, conventions=args.conventions, groups=args.groups,
                   repeat=args.repeat)
    if args.json is not None:
        write_text(args.json, report.dumps() + "\n", "--json")
    print(report.text(), file=out)
    return report.exit_status

