"""symconv matrix: every installed backend and variant through the sweep, as a conformance report."""

import sys

from ..show.outputs import write_text

HELP = "run every installed backend and variant through the sweep and write the conformance report (Markdown)"
EPILOG = """examples:
  symconv matrix --size quick -o docs/conformance.md
  symconv matrix --backends torch,onnxruntime --ops conv2d --workers 2

GPU runs say 'not run' on a machine without a GPU.
exit status (the report is written in every case): 0 something was checked and nothing found; 1 a finding in some
run; 3 nothing was checked in any run; 2 bad usage"""


def configure(parser):
    parser.add_argument("--size", choices=("quick", "full"), default="quick", help="the sweep's size (default quick)")
    parser.add_argument("--backends", metavar="B,...", default=None,
                        help="backends to run, each with its variants (default every backend whose framework is "
                             "installed)")
    parser.add_argument("--ops", metavar="OP,...", default=None, help="ops to sweep (default every op)")
    parser.add_argument("--workers", metavar="N", default=None,
                        help="processes running cases in parallel, each with its own backend worker (default one "
                             "per core; at most 4 per core)")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT", default=None,
                        help="run the cases on a Dask cluster (the dask extra)")
    parser.add_argument("--recheck", metavar="N", default=None,
                        help="check each finding's smallest case N times more, each in a fresh process, and say how "
                             "often it failed again (default 3; intermittent findings such as uninitialised memory "
                             "need it)")
    parser.add_argument("-o", "--output", metavar="FILE", default=None,
                        help="write the report to FILE (default: print it)")
    parser.epilog = EPILOG


def run(args) -> int:
    from ..backends.variants import parse_count
    from ..show.outputs import check_path, described
    from ..sweeps.cases import sweep_cases
    from ..sweeps.matrix import RECHECK, matrix_runs, run_matrix
    from ..sweeps.matrix_report import markdown
    from ..sweeps.run import resolve_workers
    sweep_cases(args.size, args.ops)  # refuse bad ops, engine settings and files before any backend starts
    recheck = RECHECK if args.recheck is None else parse_count(args.recheck, "recheck")
    resolve_workers(args.workers)
    if args.scheduler is not None:
        from ..sweeps.scheduler import parse_address
        parse_address(args.scheduler)
    if args.output is not None:
        check_path(args.output, "--output", "conformance.md")
    runs = matrix_runs(args.backends)
    words = ["symconv", "matrix", "--size", args.size]
    if args.backends:
        words += ["--backends", args.backends]
    if args.ops:
        words += ["--ops", args.ops]
    if args.recheck is not None:
        words += ["--recheck", str(recheck)]
    if args.output is not None:
        words += ["-o", args.output]
    matrix = run_matrix(runs, args.size, args.ops, args.workers, args.scheduler, command=" ".join(words),
                        recheck=recheck)
    text = markdown(matrix)
    if args.output is not None:
        write_text(args.output, text, "--output")
        print(f"wrote {described(args.output)}: {len(matrix.runs)} runs, {len(matrix.rows())} rows", file=sys.stderr)
    else:
        print(text, end="")
    return matrix.exit_status
