"""Cost of naming a bug at a real layer size: backend calls and seconds beyond the verification.

Run:  python benchmarks/bench_diagnose.py [--repeats N]
Prints a table and writes benchmarks/results/diagnose.json.

The layer: input 1x56x56x64, kernel 3x3x64x64 (ResNet-50 layer1 conv2), SAME, with the stride,
dilation or convention each planted bug needs.  Each planted bug is one of the broken
implementations in tests/impls/ (the exact model of an altered spec, or on altered tensors,
so that one call costs what a NumPy convolution of that layer costs), run in this process
through the --impl backend.  For every quantity: the backend calls made beyond the
verification's, the seconds spent beyond the verification (testing the hypotheses, the
evidence calls, any localisation), and what was named.  Targets: a whole-tensor bug named in
<= 40 backend calls per quantity and <= 3 s beyond the verification; one corrupted entry
pinpointed in <= 64 calls.  Medians over --repeats runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symconv import (
    ConvSpec,  # noqa: E402
    check,  # noqa: E402
)
from symconv.backends.impl import ImplBackend  # noqa: E402
from symconv.backends.runner import LocalRunner  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "diagnose.json"
IMPLS = ROOT / "tests" / "impls"
LAYER = dict(input_shape="1x56x56x64", kernel_shape="3x3x64x64")
QUANTITIES = ("forward", "filter_grad", "input_grad")
CASES = [
    ("pad_off_by_one_first_axis.py", ConvSpec("conv2d", **LAYER, padding="SAME")),
    ("pad_off_by_one_last_axis.py", ConvSpec("conv2d", **LAYER, padding="SAME")),
    ("flipped_kernel_all_axes.py", ConvSpec("conv2d", **LAYER, padding="SAME")),
    ("swapped_kernel_axes.py", ConvSpec("conv2d", **LAYER, padding="SAME")),
    ("transposed_channels.py", ConvSpec("conv2d", **LAYER, padding="SAME")),
    ("ignored_dilation.py", ConvSpec("conv2d", **LAYER, padding="SAME", dilations=2)),
    ("ignored_stride_first_axis.py", ConvSpec("conv2d", **LAYER, padding="SAME", strides=2)),
    ("legacy_same.py", ConvSpec("conv2d", **LAYER, padding="SAME", strides=7)),
    ("nan_input_grad.py", ConvSpec("conv2d", **LAYER, padding="SAME")),
    ("one_corrupted_entry.py", ConvSpec("conv2d", **LAYER, padding="SAME")),
]
CALL_TARGET, SECONDS_TARGET, ENTRY_CALL_TARGET = 40, 3.0, 64


def named(result) -> str:
    if result.status == "ok":
        return "agrees"
    if result.diagnosis is not None and result.diagnosis.accepted:
        return ", ".join(c.name for c in result.diagnosis.accepted)
    if result.garbage is not None:
        return "garbage: " + ", ".join(result.garbage.counts)
    if result.localisation is not None:
        return f"localised {result.localisation.resolved} of {result.localisation.entries} entries"
    return result.status


def measure(name, spec, repeats):
    runner = LocalRunner(ImplBackend(str(IMPLS / name)))
    runs = [check(spec, runner=runner, seed=seed) for seed in range(repeats)]
    rows = []
    for i, quantity in enumerate(QUANTITIES):
        results = [run.results[i] for run in runs]
        first = results[0]
        beyond = [r.backend_calls - (r.plan.probes if r.plan else 0) for r in results]
        rows.append({
            "quantity": quantity, "status": first.status, "named": named(first),
            "sentence": first.diagnosis.accepted[0].sentence if first.diagnosis and first.diagnosis.accepted else
            (first.mismatches[0].sentence() if first.mismatches else first.message),
            "backend_calls": first.backend_calls, "calls_beyond_verification": max(beyond),
            "verify_seconds": statistics.median(r.seconds.get("verify", 0.0) for r in results),
            "seconds_beyond_verification": statistics.median(r.seconds.get("diagnose", 0.0) for r in results),
            "hypotheses_tested": first.diagnosis.tested if first.diagnosis else 0,
            "hypothesis_seconds": first.diagnosis.seconds if first.diagnosis else 0.0})
    runner.close()
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    table = {}
    for name, spec in CASES:
        table[name] = {"spec": spec.describe(), "quantities": measure(name, spec, args.repeats)}
    print(f"diagnosis at {CASES[0][1].describe()} (NumPy --impl backend, medians of {args.repeats})")
    header = f"  {'planted bug':<30} {'quantity':<12} {'named':<28} {'calls+':>6} {'s+':>6} {'verify s':>8}"
    print(header)
    worst_calls, worst_seconds = 0, 0.0
    for name, item in table.items():
        for row in item["quantities"]:
            print(f"  {name[:-3]:<30} {row['quantity']:<12} {row['named'][:28]:<28} "
                  f"{row['calls_beyond_verification']:>6} {row['seconds_beyond_verification']:>6.2f} "
                  f"{row['verify_seconds']:>8.2f}")
            if name != "one_corrupted_entry.py" and row["status"] != "ok":
                worst_calls = max(worst_calls, row["backend_calls"])
                worst_seconds = max(worst_seconds, row["seconds_beyond_verification"])
    corrupted = next(r for r in table["one_corrupted_entry.py"]["quantities"] if r["quantity"] == "forward")
    print(f"  whole-tensor bugs: at most {worst_calls} backend calls per quantity (target <= {CALL_TARGET}), "
          f"at most {worst_seconds:.2f} s beyond the verification (target <= {SECONDS_TARGET:g})")
    print(f"  one corrupted entry: {corrupted['backend_calls']} backend calls (target <= {ENTRY_CALL_TARGET})")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "layer": CASES[0][1].describe(), "backend": "impl (tests/impls, NumPy)", "machine": platform.machine(),
        "processor_count": os.cpu_count(), "load_average_before": load_before,
        "load_average_after": os.getloadavg(), "repeats": args.repeats, "numpy": np.__version__,
        "targets": {"calls_per_quantity": CALL_TARGET, "seconds_beyond_verification": SECONDS_TARGET,
                    "corrupted_entry_calls": ENTRY_CALL_TARGET},
        "worst_calls_per_quantity": worst_calls, "worst_seconds_beyond_verification": worst_seconds,
        "corrupted_entry_calls": corrupted["backend_calls"], "cases": table}, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")


if __name__ == "__main__":
    main()
