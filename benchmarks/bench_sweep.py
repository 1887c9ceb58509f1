"""Speed of the sweep: one case with a warm worker, the CI slice, and the whole quick matrix.

Run:  python benchmarks/bench_sweep.py [--backends torch,onnxruntime,jax] [--matrix]
Prints a table and writes benchmarks/results/sweep.json.

* "one case": the median over the quick sweep's cases of ``symconv.sweeps.run.evaluate_case``
  (``check`` of y, dk and dx along every path of the run, the verdicts, no finding to shrink)
  in a warm worker process (framework imported, a few cases run first), with the matrix's
  variant of each backend (PyTorch and ONNX Runtime with one intra-op thread, PyTorch along raw
  and autograd gradients).  For JAX, each case is timed on its second run, after the first
  compilation of its shapes.  Targets: <= 25 ms for torch and onnxruntime, <= 100 ms for jax.
* "CI slice": the runs whose rows of docs/conformance.md CI recomputes (torch-1-thread and
  onnxruntime-1-thread over the whole quick sweep, findings read by infer), as ``symconv matrix``
  runs them: target <= 3 minutes.
* "matrix" (``--matrix``): ``symconv matrix --size quick --workers 2`` over tf, tf-xla, keras,
  torch, jax and onnxruntime (CPU) as a whole process: target <= 10 minutes on 2 cores.
* "false alarms": findings of the runs timed here that the loop reference (``symconv.reference``)
  does not confirm: target 0.
* "paths" (``--paths``): for each execution path of the matrix, a warm case (each case's second
  evaluation, its graph already compiled or converted) against its framework's eager run on the
  same cases and quantities (forward only for a runtime), and the build (compile, export,
  conversion) apart: the first evaluation less the warm one, per spec.  Target: warm within 2x the
  eager case.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from machine import cpu_model  # benchmarks/machine.py
from symconv.sweeps.cases import sweep_cases
from symconv.sweeps.matrix import default_runs, run_one, versions
from symconv.sweeps.run import checked, evaluate_case

RESULTS = Path(__file__).resolve().parent / "results" / "sweep.json"
TARGETS = {"torch": 0.025, "onnxruntime": 0.025, "jax": 0.100}
MATRIX_BACKENDS = "tf,tf-xla,keras,torch,jax,onnxruntime"


def _run(name):
    return next(r for runs in default_runs().values() for r in runs if r.name == name)


def one_case(run, cases, repeat_first: bool) -> dict:
    """Median seconds of one case on a warm worker (the second run of each case if asked)."""
    with run.target.open_runner() as runner:
        for case in cases[:5]:
            evaluate_case(runner, case, run.target, shrink_findings=False)
        times, findings, unconfirmed = [], 0, 0
        for case in cases:
            if repeat_first:
                evaluate_case(runner, case, run.target, shrink_findings=False)
            start = time.perf_counter()
            result = evaluate_case(runner, case, run.target, shrink_findings=False)
            times.append(time.perf_counter() - start)
            findings += len(result.findings)
            unconfirmed += sum(not f.confirmed for f in result.findings)
    return {"run": run.name, "variant": run.variant.describe(), "grad_path": run.grad_path, "cases": len(cases),
            "median_seconds": statistics.median(times), "max_seconds": max(times), "findings": findings,
            "unconfirmed_findings": unconfirmed}


# path run -> the eager run of its framework it is compared with
PATH_BASELINES = {"torch-compile-inductor-1-thread": "torch-1-thread", "torch-channels-last-1-thread": "torch-1-thread",
                  "jax-eager": "jax", "tf-convolution": "tf-onednn-on", "keras-jax": "keras",
                  "keras-torch-1-thread": "keras", "litert-xnnpack-1-thread": "tf-onednn-on",
                  "litert-builtin-1-thread": "tf-onednn-on", "onnxruntime-from-torch-1-thread": "onnxruntime-1-thread",
                  "onnxruntime-from-tf-1-thread": "onnxruntime-1-thread",
                  "openvino-from-onnx-1-thread": "onnxruntime-1-thread",
                  "openvino-from-torch-1-thread": "onnxruntime-1-thread"}
PATH_CASES = 24   # every sixth case of the quick sweep, no case without output


def timed_cases(run, cases, quantities) -> dict:
    """Per case: the first check (building the spec's graph) and the second (warm), in seconds."""
    first, warm = [], []
    with run.target.open_runner() as runner:
        checked(runner, cases[0].spec, quantities)   # the framework loaded
        for case in cases:
            start = time.perf_counter()
            checked(runner, case.spec, quantities)
            middle = time.perf_counter()
            checked(runner, case.spec, quantities)
            first.append(middle - start)
            warm.append(time.perf_counter() - middle)
    return {"first": first, "warm": warm, "calls": sum(runner.calls.values())}


def paths_table() -> dict:
    cases = [c for c in sweep_cases("quick") if not c.spec.is_empty][::6][:PATH_CASES]
    out, baselines = {}, {}
    for name, base in PATH_BASELINES.items():
        run, eager = _run(name), _run(base)
        quantities = list(run.path.quantities)
        key = (base, tuple(quantities))
        if key not in baselines:
            baselines[key] = timed_cases(eager, cases, quantities)
        mine, theirs = timed_cases(run, cases, quantities), baselines[key]
        warm, eager_warm = statistics.median(mine["warm"]), statistics.median(theirs["warm"])
        build = statistics.median(f - w for f, w in zip(mine["first"], mine["warm"]))
        out[name] = {"path": run.path.name, "kind": run.path.kind, "baseline": base, "quantities": quantities,
                     "warm_median_seconds": warm, "baseline_warm_median_seconds": eager_warm,
                     "ratio": warm / eager_warm, "build_median_seconds": build, "cases": len(cases)}
    return out


def ci_slice() -> dict:
    start = time.perf_counter()
    findings = unconfirmed = 0
    for name in ("torch-1-thread", "onnxruntime-1-thread"):
        done = run_one(_run(name), progress=False)
        findings += sum(len(r.findings) for r in done.results)
        unconfirmed += sum(not f.confirmed for r in done.results for f in r.findings)
    return {"seconds": time.perf_counter() - start, "findings": findings, "unconfirmed_findings": unconfirmed}


def whole_matrix() -> dict:
    start = time.perf_counter()
    out = Path("/tmp") / f"symconv-matrix-{os.getpid()}.md"
    done = subprocess.run([sys.executable, "-m", "symconv", "matrix", "--size", "quick", "--workers", "2",
                           "--backends", MATRIX_BACKENDS, "-o", str(out)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    text = out.read_text()
    out.unlink()
    return {"seconds": seconds, "backends": MATRIX_BACKENDS, "workers": 2, "findings": text.count("\n### "),
            "unconfirmed_findings": text.count("not confirmed")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="torch,onnxruntime,jax")
    parser.add_argument("--matrix", action="store_true", help="also time symconv matrix --size quick (minutes)")
    parser.add_argument("--paths", action="store_true", help="only the execution paths against their eager runs")
    args = parser.parse_args(argv)
    if args.paths:
        load_before = os.getloadavg()
        table = paths_table()
        path_results = RESULTS.with_name("paths.json")
        path_results.write_text(json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)",
                                            "cpu": cpu_model(), "load_average_before": load_before,
                                            "versions": versions(), "paths": table}, indent=1) + "\n")
        print(f"{'path':<34} {'kind':<10} {'warm':>9} {'eager':>9} {'ratio':>6} {'build/spec':>11}")
        for name, row in table.items():
            print(f"{name:<34} {row['kind']:<10} {row['warm_median_seconds'] * 1000:>6.1f} ms "
                  f"{row['baseline_warm_median_seconds'] * 1000:>6.1f} ms {row['ratio']:>5.2f}x "
                  f"{row['build_median_seconds']:>9.2f} s")
        return
    cases = sweep_cases("quick")
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)", "versions": versions(),
               "one_case": {}, "targets": TARGETS}
    names = {"torch": "torch-1-thread", "onnxruntime": "onnxruntime-1-thread", "jax": "jax"}
    for backend in args.backends.split(","):
        results["one_case"][backend] = one_case(_run(names[backend]), cases, repeat_first=backend == "jax")
    results["ci_slice"] = ci_slice()
    if args.matrix:
        results["matrix"] = whole_matrix()
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"{'measurement':<58} {'value':>12} {'target':>10}")
    for backend, row in results["one_case"].items():
        label = f"one case, warm worker: {row['run']} ({row['grad_path']})" + (" compiled" if backend == "jax" else "")
        print(f"{label:<58} {row['median_seconds'] * 1000:>9.1f} ms {TARGETS[backend] * 1000:>7.0f} ms")
    print(f"{'CI slice: torch-1-thread + onnxruntime-1-thread, quick':<58} {results['ci_slice']['seconds']:>10.1f} s "
          f"{180:>8} s")
    if args.matrix:
        print(f"{'symconv matrix --size quick (' + MATRIX_BACKENDS + ')':<58} "
              f"{results['matrix']['seconds'] / 60:>8.1f} min {10:>6} min")
    unconfirmed = sum(r["unconfirmed_findings"] for r in results["one_case"].values()) + \
        results["ci_slice"]["unconfirmed_findings"] + results.get("matrix", {}).get("unconfirmed_findings", 0)
    print(f"{'findings not confirmed by the loop reference':<58} {unconfirmed:>12} {0:>10}")


if __name__ == "__main__":
    main()
