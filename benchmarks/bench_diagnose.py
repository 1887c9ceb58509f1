"""Naming a bug at a real layer size: whether the sentence is right, and what it cost in backend
calls and seconds beyond the verification.

Run:  python benchmarks/bench_diagnose.py [--repeats N] [--only NAME]
Prints a table and writes benchmarks/results/diagnose.json.

Each case is a planted broken implementation of tests/impls/ (the exact model of an altered spec,
or on altered tensors, or plain NumPy or PyTorch code), run in this process through the --impl
backend.  The layer is ResNet-50's layer1 conv2 (input 1x56x56x64, kernel 3x3x64x64, SAME; grouped
with 3x3x32x64 for the channel bugs) with the stride, dilation or convention each bug needs, and
the issue's own sizes where it gives them (1x50x22x1 with a 5x6 kernel and strides 10,2; a
transposed 1x28x28x64 -> 56x56; the ResNet-50 stem for the PyTorch port).  For every quantity:
the sentence, whether it names the planted bug (its hypothesis and the facts it must say), the
backend calls (targets: <= 20 per quantity for geometric and channel-map bugs, <= 80 for local
anomalies; the verification's 2 included), and the seconds beyond the verification (testing
the hypotheses, lit calls, evidence, any localisation).  Medians over --repeats runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from machine import cpu_model  # noqa: E402  (benchmarks/machine.py)

from symconv import (
    ConvSpec,  # noqa: E402
    check,  # noqa: E402
)
from symconv.backends.impl import ImplBackend  # noqa: E402
from symconv.backends.runner import LocalRunner  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "diagnose.json"
IMPLS = ROOT / "tests" / "impls"
LAYER = dict(input_shape="1x56x56x64", kernel_shape="3x3x64x64")
GROUPED = dict(input_shape="1x56x56x64", kernel_shape="3x3x32x64", groups=2)
QUANTITIES = ("forward", "filter_grad", "input_grad")
# (impl, spec, kind, the hypotheses that name it, facts the sentence must hold, quantities)
CASES = [
    ("pad_off_by_one_first_axis.py", ConvSpec("conv2d", **LAYER, padding="SAME"), "geometry",
     {"shifted_pads"}, ["pads 0:2,1:1 instead of 1:1,1:1"], QUANTITIES),
    ("pad_off_by_one_last_axis.py", ConvSpec("conv2d", **LAYER, padding="SAME"), "geometry",
     {"shifted_pads"}, ["pads 1:1,2:0 instead of 1:1,1:1"], QUANTITIES),
    ("flipped_kernel_all_axes.py", ConvSpec("conv2d", **LAYER, padding="SAME"), "kernel",
     {"flipped_kernel"}, ["flipped on H and W", "a true convolution"], QUANTITIES),
    ("swapped_kernel_axes.py", ConvSpec("conv2d", **LAYER, padding="SAME"), "kernel",
     {"swapped_kernel_axes"}, ["H and W axes swapped"], QUANTITIES),
    ("transposed_channels.py", ConvSpec("conv2d", **LAYER, padding="SAME"), "channels",
     {"transposed_kernel_channels"}, ["in- and out-channel axes swapped"], QUANTITIES),
    ("ignored_dilation.py", ConvSpec("conv2d", **LAYER, padding="SAME", dilations=2), "geometry",
     {"ignored_dilation"}, ["dilation 1 instead of 2 on H and W"], QUANTITIES),
    ("ignored_stride_first_axis.py", ConvSpec("conv2d", **LAYER, padding="SAME", strides=2), "geometry",
     {"ignored_stride"}, ["stride 1 instead of 2 on H"], QUANTITIES),
    ("legacy_same.py", ConvSpec("conv2d", **LAYER, padding="SAME", strides=7), "geometry",
     {"convention"}, ["legacy_eigen"], QUANTITIES),
    ("unclamped_same_split.py", ConvSpec("conv2d", "1x50x22x1", "5x6x1x1", strides=(10, 2), padding="SAME"),
     "geometry", {"fitted_geometry"}, ["pads -3:-2,2:2 instead of 0:0,2:2", "split without clamping"], QUANTITIES),
    ("unclamped_same_split.py", ConvSpec("conv2d", **LAYER, padding="SAME", strides=4), "geometry",
     {"fitted_geometry", "shifted_pads"}, ["pads -1:0,-1:0 instead of 0:0,0:0", "split without clamping"], QUANTITIES),
    ("im2col_patch_order.py", ConvSpec("conv2d", **LAYER, padding="SAME"), "kernel",
     {"kernel_layout", "fitted_kernel_map"}, ["patch columns are ordered (c, h, w)"], QUANTITIES),
    ("dropped_group.py", ConvSpec("conv2d", **GROUPED, padding="SAME"), "channels",
     {"zero_region", "fitted_kernel_map"}, ["32:64", "group 1"], QUANTITIES),
    ("channel_from_other_group.py", ConvSpec("conv2d", **GROUPED, padding="SAME"), "channels",
     {"fitted_kernel_map"}, ["y channel 63 (group 1) computed from x channels 0-31 (group 0) instead of 32-63"],
     QUANTITIES),
    ("wrong_last_position.py", ConvSpec("conv2d", **LAYER, padding="SAME"), "local",
     {"local_rule"}, ["the window of y[:,55,55,:] (the last output position) is read one column to the left"],
     QUANTITIES),
    ("transposed_longer_output.py", ConvSpec("conv2d_transpose", "1x28x28x64", "3x3x64x64", strides=2,
                                             padding="SAME"), "geometry",
     {"padding_mode", "fitted_geometry"}, ["pads 0:0,0:0"], ("forward",)),
    ("torch_port_padding3.py", ConvSpec("conv2d", "1x224x224x3", "7x7x3x64", strides=2, padding="SAME"),
     "geometry", {"convention"}, ["SAME resolved by the torch convention (pads 3:3,3:3"], QUANTITIES),
    ("nan_input_grad.py", ConvSpec("conv2d", **LAYER, padding="SAME"), "garbage", set(), [], ("input_grad",)),
    ("one_corrupted_entry.py", ConvSpec("conv2d", **LAYER, padding="SAME"), "entry", set(), [], ("forward",)),
]
CALL_TARGETS = {"geometry": 20, "kernel": 20, "channels": 20, "local": 80, "entry": 64, "garbage": 2}
SECONDS_TARGET = 3.0


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


def right(result, names, facts) -> bool | None:
    """Whether the diagnosis names the planted bug: its first explanation is of the expected
    hypotheses and says every fact (None for cases that are not named by a hypothesis)."""
    if not names:
        return None
    d = result.diagnosis
    if d is None or not d.accepted:
        return False
    first = d.explanations()[0]
    return first.name in names and all(f in first.sentence for f in facts)


def measure(name, spec, names, facts, quantities, repeats):
    runner = LocalRunner(ImplBackend(str(IMPLS / name)))
    runs = [check(spec, runner=runner, seed=seed, quantities=quantities) for seed in range(repeats)]
    rows = []
    for i, quantity in enumerate(quantities):
        results = [run.results[i] for run in runs]
        first = results[0]
        explanations = first.diagnosis.explanations() if first.diagnosis else []
        rows.append({
            "quantity": quantity, "status": first.status, "named": named(first),
            "right": right(first, names, facts),
            "sentence": explanations[0].sentence if explanations else
            (first.mismatches[0].sentence() if first.mismatches else first.message),
            "fix": first.diagnosis.fix if first.diagnosis else [],
            "backend_calls": max(r.backend_calls for r in results),
            "lit_calls": first.diagnosis.fit_calls if first.diagnosis else 0,
            "verify_seconds": statistics.median(r.seconds.get("verify", 0.0) for r in results),
            "seconds_beyond_verification": statistics.median(r.seconds.get("diagnose", 0.0) for r in results),
            "hypotheses_tested": first.diagnosis.tested if first.diagnosis else 0})
    runner.close()
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--only", default=None, help="run the cases whose file name contains this")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    table = {}
    for name, spec, kind, names, facts, quantities in CASES:
        if args.only and args.only not in name:
            continue
        if name.startswith("torch") and importlib.util.find_spec("torch") is None:
            continue
        key = f"{name[:-3]} {spec.describe()}"
        table[key] = {"impl": name, "spec": spec.describe(), "kind": kind,
                      "quantities": measure(name, spec, names, facts, quantities, args.repeats)}
    print(f"diagnosis of planted bugs (NumPy or PyTorch --impl backend, medians of {args.repeats}; calls include "
          f"the verification's)")
    print(f"  {'planted bug':<28} {'input':<11} {'quantity':<12} {'named':<22} {'right':<5} {'calls':>5} "
          f"{'lit':>4} {'s+':>6}")
    worst = {}
    wrong = []
    for key, item in table.items():
        for row in item["quantities"]:
            shape = item["spec"].split(" ")[2]
            print(f"  {item['impl'][:-3][:28]:<28} {shape:<11} {row['quantity']:<12} {row['named'][:22]:<22} "
                  f"{str(row['right'] if row['right'] is not None else '-'):<5} {row['backend_calls']:>5} "
                  f"{row['lit_calls']:>4} {row['seconds_beyond_verification']:>6.2f}")
            if row["status"] != "ok":
                worst[item["kind"]] = max(worst.get(item["kind"], 0), row["backend_calls"])
            if row["right"] is False:
                wrong.append(f"{key} {row['quantity']}")
    for kind, calls in worst.items():
        print(f"  {kind}: at most {calls} backend calls per quantity (target <= {CALL_TARGETS[kind]})")
    print(f"  named right: {sum(r['right'] is True for i in table.values() for r in i['quantities'])} of "
          f"{sum(r['right'] is not None for i in table.values() for r in i['quantities'])}"
          + (f"; wrong or unnamed: {', '.join(wrong)}" if wrong else ""))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "backend": "impl (tests/impls, NumPy or PyTorch)", "machine": platform.machine(),
        "cpu": cpu_model(), "processor_count": os.cpu_count(), "load_average_before": load_before,
        "load_average_after": os.getloadavg(), "repeats": args.repeats, "numpy": np.__version__,
        "targets": {"calls_per_quantity": CALL_TARGETS, "seconds_beyond_verification": SECONDS_TARGET},
        "worst_calls_per_quantity": worst, "named_wrong": wrong, "cases": table}, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")


if __name__ == "__main__":
    main()
