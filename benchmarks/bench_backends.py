"""Speed of one sweep case (``symconv check`` of y, dk and dx) against PyTorch, JAX and ONNX
Runtime, each in a warm worker process.

Run:  python benchmarks/bench_backends.py [--repeats N] [--backends torch,jax,onnxruntime]
Prints a table and writes benchmarks/results/backends.json.

The cases: every op x padding mode (SAME under tf and same_lower, VALID, explicit pads with a
negative one) x layout, at the small sizes a sweep uses (batch 2, 3 channels, spatial 6-8,
kernel 3, stride 2), 56 specs.  Each backend runs in one child process started and warmed up
(framework imported, one check run) before timing.

* "new case": the median over the cases of one ``check`` of a spec the worker has not seen
  (PyTorch and ONNX Runtime set up per spec: ONNX Runtime builds a session); target <= 25 ms
  for torch and onnxruntime.
* "compiled case": the median over the cases of a ``check`` of a spec already run once (for
  JAX, after the first jit compilation of its shapes); target <= 100 ms for jax.
For JAX the "new case" column is the first ``check`` of a spec, its compilation included.
torch and onnxruntime are measured with the framework's own thread pool and with one thread:
on a machine whose cores are busy with other work an idle-spinning pool costs more than it gives;
torch also along both gradient paths (raw and autograd: five results per case instead of three).
"CPU per new case" adds this process's CPU time and the worker's (from /proc): on a shared
machine it moves less than the wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from symconv import ConvSpec, check
from symconv.backends import Variant, open_runner
from symconv.model.spec import DATA_FORMATS, OPS

RESULTS = Path(__file__).resolve().parent / "results" / "backends.json"
TARGETS = {"torch": ("new case", 0.025), "onnxruntime": ("new case", 0.025), "jax": ("compiled case", 0.100)}
PADDINGS = [("SAME", "tf"), ("SAME", "same_lower"), ("VALID", "tf"), ("explicit", "tf")]


def cases() -> list:
    out = []
    for op, info in OPS.items():
        nd, kind = info
        for fmt in DATA_FORMATS[nd]:
            for padding, convention in PADDINGS:
                spatial = (8, 7, 6)[:nd]
                pad = ",".join(["1:-1", "0:2", "2:1"][:nd]) if padding == "explicit" else padding
                if kind == "conv":
                    kernel = (3,) * nd + (3, 4)
                elif kind == "depthwise":
                    kernel = (3,) * nd + (3, 2)
                else:
                    kernel = (3,) * nd + (4, 3)
                shape = (2, *spatial, 3) if fmt.endswith("C") else (2, 3, *spatial)
                out.append(ConvSpec(op, shape, kernel, strides=2, padding=pad, convention=convention,
                                    data_format=fmt))
    return out


def timed(runner, spec) -> float:
    start = time.perf_counter()
    report = check(spec, runner=runner)
    elapsed = time.perf_counter() - start
    assert report.ok, report.text()
    return elapsed


def cpu_seconds(runner) -> float:
    """CPU time of this process and of the runner's worker process so far (Linux /proc)."""
    own = time.process_time()
    with open(f"/proc/{runner.worker.process.pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return own + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(backend: str, variant: Variant, specs: list, repeats: int, grad_path: str) -> dict:
    with open_runner(backend, variant=variant, grad_path=grad_path, isolate=True) as runner:
        warm = ConvSpec("conv2d", "1x5x5x2", "2x2x2x2", padding="SAME")
        for _ in range(3):
            timed(runner, warm)
        cpu = cpu_seconds(runner)
        first = [timed(runner, spec) for spec in specs]
        cpu_first = (cpu_seconds(runner) - cpu) / len(specs)
        again = [statistics.median(timed(runner, spec) for _ in range(repeats)) for spec in specs]
        calls = sum(runner.calls.values())
    return {"backend": backend, "variant": runner.backend.variant.describe(), "grad_path": grad_path,
            "new_case_seconds": statistics.median(first), "new_case_max_seconds": max(first),
            "new_case_cpu_seconds": cpu_first, "compiled_case_seconds": statistics.median(again),
            "cases": len(specs), "backend_calls": calls}


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version
    out = {}
    for package in ("torch", "jax", "jaxlib", "onnxruntime", "onnx", "numpy"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            pass
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="torch,jax,onnxruntime")
    args = parser.parse_args(argv)
    specs = cases()
    results = {}
    for backend in args.backends.split(","):
        results[backend] = measure(backend, Variant(), specs, args.repeats, "raw")
        if backend != "jax":  # the framework's thread pool against one thread, on a shared machine
            results[f"{backend}, 1 thread"] = measure(backend, Variant(threads=1), specs, args.repeats, "raw")
        if backend == "torch":
            results["torch, 1 thread, raw and autograd"] = measure(backend, Variant(threads=1), specs, args.repeats,
                                                                   "both")
    rows = [("backend", "new case", "CPU per new case", "slowest new case", "compiled case", "target", "met")]
    for name, item in results.items():
        kind, limit = TARGETS[item["backend"]]
        value = item["new_case_seconds"] if kind == "new case" else item["compiled_case_seconds"]
        item["target"] = {"measure": kind, "seconds": limit, "met": value <= limit}
        rows.append((name, f"{item['new_case_seconds'] * 1e3:.1f} ms", f"{item['new_case_cpu_seconds'] * 1e3:.1f} ms",
                     f"{item['new_case_max_seconds'] * 1e3:.0f} ms",
                     f"{item['compiled_case_seconds'] * 1e3:.1f} ms", f"{kind} <= {limit * 1e3:.0f} ms",
                     "yes" if value <= limit else "NO"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print(f"one sweep case (check of y, dk and dx) over {len(specs)} specs, warm worker; CPU: this process and the "
          f"worker together")
    for row in rows:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"versions": versions(), "machine": platform.machine(),
                                   "processor_count": os.cpu_count(), "repeats": args.repeats,
                                   "results": results}, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")


if __name__ == "__main__":
    main()
