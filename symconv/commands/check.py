"""symconv check: a real implementation's y, dk and dx against the exact model, entry by entry."""

import json

from .arguments import add_report_arguments, add_spec_arguments, report_stream, spec_from_args

HELP = "check a backend's (or your own --impl file's) y, dk and dx against the exact model"
EPILOG = """examples:
  symconv check conv2d --input 1x3x3x1 --kernel 1x1x1x1 --strides 3 --padding SAME --backend tf
  symconv check conv2d --input 1x3x3x1 --kernel 1x1x1x1 --strides 3 --padding SAME \
      --impl examples/founding_bug.py --png founding_check.png
  symconv check conv3d --input 1x3x3x3x1 --kernel 1x1x1x1x1 --strides 3 --padding SAME --backend tf --onednn off
exit status: 0 every checked quantity agrees; 1 a mismatch or an error (an exception raised by your --impl code, a
crash, a wrong shape, values no sum of products gives, an output that changed between calls on the same inputs); 3
nothing was checked (every quantity skipped, or refused: a framework's exception, NotImplementedError, or a case
outside what the --impl file declares); 2 bad usage"""


def add_backend_arguments(parser, required: bool = True) -> None:
    """--backend/--impl and the variant options shared by check, infer and explain."""
    from ..backends import BACKENDS, add_variant_arguments
    group = parser.add_argument_group("implementation under test")
    choice = group.add_mutually_exclusive_group(required=required)
    choice.add_argument("--backend", metavar="B", help=f"one of {', '.join(sorted(BACKENDS))}")
    choice.add_argument("--impl", metavar="FILE.py",
                        help="your own implementation: a file defining forward(x, k, spec), "
                             "filter_grad(x, g, spec) and/or input_grad(k, g, spec)")
    add_variant_arguments(group)
    group.add_argument("--grad-path", default="raw", choices=("raw", "tape", "both"),
                       help="gradients through the framework's raw backward ops, its automatic differentiation "
                            "(tf.GradientTape, torch.autograd), or both (default raw)")
    group.add_argument("--in-process", action="store_true",
                       help="run the backend in this process (faster; a crash ends the run) instead of a child")
    group.add_argument("--timeout", metavar="S", default=None,
                       help="seconds one backend call may take in the child process (default: from the case's "
                            "size, 10 s for a small case, at most 600 s)")


def backend_options(args) -> dict:
    from ..backends import variant_from_args
    from ..errors import SymconvError
    from ..model.values import timeout_seconds
    if args.in_process and args.timeout is not None:
        raise SymconvError("--timeout applies to the child process that --in-process does without (a call in this "
                           "process cannot be stopped): give one of them")
    return dict(backend=args.backend, impl=args.impl, grad_path=args.grad_path, isolate=not args.in_process,
                timeout=timeout_seconds(args.timeout), variant=variant_from_args(args))


def configure(parser):
    add_spec_arguments(parser)
    add_backend_arguments(parser)
    parser.add_argument("--max-mismatches", metavar="N", type=int, default=20,
                        help="wrong entries to localise and list (default 20; the total is always counted)")
    parser.add_argument("--miss-probability", metavar="P", type=float, default=2**-12,
                        help="how often a wrong entry may escape the random probes (default 2**-12; smaller "
                             "costs more probes, at most 10 backend calls per quantity)")
    parser.add_argument("--max-calls", metavar="N", type=int, default=1000,
                        help="backend calls that localising the wrong entries of one quantity may spend when no "
                             "hypothesis explains them (default 1000)")
    parser.add_argument("--max-seconds", metavar="S", type=float, default=60.0,
                        help="seconds that localising one quantity may spend (default 60)")
    parser.add_argument("--repeat", metavar="N", default=0,
                        help="call the implementation N more times on inputs it has seen and fail it as "
                             "nondeterministic if any entry changes (default 0: the check assumes the same inputs "
                             "give the same output)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random probes (default 0)")
    add_report_arguments(parser, "the pixels the model reads and those the backend was seen to read, per quantity")
    parser.epilog = EPILOG


def run(args) -> int:
    from ..checks.verdicts import check
    from ..show.outputs import described
    out = report_stream(args)
    spec = spec_from_args(args)
    report = check(spec, max_mismatches=args.max_mismatches, seed=args.seed, miss_probability=args.miss_probability,
                   max_calls=args.max_calls, max_seconds=args.max_seconds, repeat=args.repeat,
                   **backend_options(args))
    if args.png is not None:
        report.plot().save(args.png, "--png")
    print(json.dumps(report.to_json()) if args.json else report.text(), file=out)
    if args.png is not None and not args.json:
        print(f"wrote picture {described(args.png)}", file=out)
    return report.exit_status
