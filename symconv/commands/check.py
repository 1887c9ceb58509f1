"""symconv check: a real implementation's y, dk and dx against the exact model, entry by entry."""

import json

from ..cli import add_spec_arguments, spec_from_args

HELP = "check a backend's (or your own --impl file's) y, dk and dx against the exact model"


def add_backend_arguments(parser, required: bool = True) -> None:
    """--backend/--impl and the variant options shared by check, infer and explain."""
    from ..backends import BACKENDS
    group = parser.add_argument_group("implementation under test")
    choice = group.add_mutually_exclusive_group(required=required)
    choice.add_argument("--backend", metavar="B", help=f"one of {', '.join(sorted(BACKENDS))}")
    choice.add_argument("--impl", metavar="FILE.py",
                        help="your own implementation: a file defining forward(x, k, spec), "
                             "filter_grad(x, g, spec) and/or input_grad(k, g, spec)")
    group.add_argument("--device", default="cpu", choices=("cpu", "gpu"), help="device (default cpu)")
    group.add_argument("--onednn", default=None, choices=("on", "off"),
                       help="TF_ENABLE_ONEDNN_OPTS for TensorFlow (default: TensorFlow's own)")
    group.add_argument("--threads", metavar="N", default=None, help="intra-op threads (default: the framework's)")
    group.add_argument("--grad-path", default="raw", choices=("raw", "tape", "both"),
                       help="gradients through the raw backprop ops, tf.GradientTape, or both (default raw)")
    group.add_argument("--in-process", action="store_true",
                       help="run the backend in this process (faster; a crash ends the run) instead of a child")
    group.add_argument("--timeout", metavar="S", default=None,
                       help="seconds one backend call may take in the child process (default: from the case's "
                            "size, 10 s for a small case, at most 600 s)")


def backend_options(args) -> dict:
    from ..backends import Variant, parse_onednn
    from ..errors import SymconvError
    from ..values import timeout_seconds
    threads = None
    if args.threads is not None:
        try:
            threads = int(args.threads)
        except ValueError:
            raise SymconvError(f"threads must be a positive integer, got {args.threads!r}") from None
    return dict(backend=args.backend, impl=args.impl, grad_path=args.grad_path, isolate=not args.in_process,
                timeout=timeout_seconds(args.timeout),
                variant=Variant(args.device, parse_onednn(args.onednn), threads))


def configure(parser):
    add_spec_arguments(parser)
    add_backend_arguments(parser)
    parser.add_argument("--max-mismatches", metavar="N", type=int, default=20,
                        help="wrong entries to localise and list (default 20; the total is always counted)")
    parser.add_argument("--miss-probability", metavar="P", type=float, default=2**-12,
                        help="how often a wrong entry may escape the random probes (default 2**-12; smaller "
                             "costs more probes, at most 10 backend calls per quantity)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random probes (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    from ..check import check
    spec = spec_from_args(args)
    report = check(spec, max_mismatches=args.max_mismatches, seed=args.seed, miss_probability=args.miss_probability,
                   **backend_options(args))
    print(json.dumps(report.to_json()) if args.json else report.text())
    return 0 if report.ok else 1
