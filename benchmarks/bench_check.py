"""Speed of `check` against TensorFlow on a ResNet-50-like layer, and the cost of a diagnosis.

Run:  python benchmarks/bench_check.py [--repeats N]
Prints a table and writes benchmarks/results/check.json.

The layer: input 1x56x56x64, kernel 3x3x64x64, stride 1, SAME (ResNet-50 layer1 conv2).
Baseline: what TensorFlow itself needs for one forward and both gradients of that layer
(tf.nn.conv2d, tf.raw_ops.Conv2DBackpropFilter, tf.raw_ops.Conv2DBackpropInput, results
fetched with .numpy()), measured in the same process on the same inputs after warm-up.  The
target is check time <= 5x that.  Both are medians over --repeats runs.

Diagnosis: the same layer through a deliberately broken backend (TensorFlow's forward with one
extra product in one entry, localised entry by entry; and one with a window shifted by one
pixel, named by hypothesis): backend calls are counted, to show they do not grow with the
tensor size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from symconv import (
    ConvSpec,  # noqa: E402
    check,  # noqa: E402
)
from symconv.backends.runner import LocalRunner  # noqa: E402
from symconv.backends.tf_backend import TFBackend  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "check.json"
LAYER = ConvSpec("conv2d", "1x56x56x64", "3x3x64x64", strides=1, padding="SAME")


class OneWrongEntry(TFBackend):
    """TensorFlow's forward, plus one stray product in y[0,10,10,5]: x[0,0,0,0]*k[0,0,0,5]."""

    name = "tf (one wrong entry)"

    def run(self, spec, quantity, path, tensors):
        out = super().run(spec, quantity, path, tensors)
        if quantity == "forward":
            out[0, 10, 10, 5] += tensors["x"][0, 0, 0, 0] * tensors["k"][0, 0, 0, 5]
        return out


class ShiftedWindow(TFBackend):
    """TensorFlow's forward on the input shifted by one row: every entry reads the wrong pixels."""

    name = "tf (window shifted by one row)"

    def run(self, spec, quantity, path, tensors):
        if quantity == "forward":
            x = np.zeros_like(tensors["x"])
            x[:, :-1] = tensors["x"][:, 1:]
            tensors = dict(tensors, x=x)
        return super().run(spec, quantity, path, tensors)


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def tf_baseline(repeats):
    import tensorflow as tf
    rng = np.random.default_rng(1)
    x = tf.constant(rng.integers(-9, 10, LAYER.x_shape).astype(np.float32))
    k = tf.constant(rng.integers(-9, 10, LAYER.k_shape).astype(np.float32))
    g = tf.constant(rng.integers(-9, 10, LAYER.y_shape).astype(np.float32))
    ones = [1, 1, 1, 1]

    def once():
        tf.nn.conv2d(x, k, strides=1, padding="SAME").numpy()
        tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=list(LAYER.k_shape), out_backprop=g, strides=ones,
                                        padding="SAME").numpy()
        tf.raw_ops.Conv2DBackpropInput(input_sizes=list(LAYER.x_shape), filter=k, out_backprop=g, strides=ones,
                                       padding="SAME").numpy()
    for _ in range(5):
        once()
    return median_time(once, repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args(argv)

    runner = LocalRunner(TFBackend())
    check(LAYER, runner=runner)  # warm-up: TensorFlow's first calls build their kernels
    tf_median, tf_best = tf_baseline(args.repeats)
    report = check(LAYER, runner=runner)
    assert report.ok, report.text()
    check_median, check_best = median_time(lambda: check(LAYER, runner=runner), args.repeats)
    tf_median_after, _ = tf_baseline(args.repeats)
    tf_median = min(tf_median, tf_median_after)
    calls = {r.quantity: r.backend_calls for r in report.results}
    probes = {r.quantity: r.plan.as_json() for r in report.results}

    broken = {}
    for backend in (OneWrongEntry(), ShiftedWindow()):
        start = time.perf_counter()
        result = check(LAYER, runner=LocalRunner(backend), quantities=("forward",), max_mismatches=1).results[0]
        elapsed = time.perf_counter() - start
        mismatch = result.mismatches[0] if result.mismatches else None
        accepted = result.diagnosis.accepted if result.diagnosis is not None else []
        broken[backend.name] = {
            "status": result.status, "mismatching_entries": result.mismatch_count,
            "backend_calls": result.backend_calls, "seconds": elapsed,
            "seconds_beyond_verification": result.seconds.get("diagnose"),
            "diagnosis": [c.sentence for c in accepted],
            "hypotheses_tested": result.diagnosis.tested if result.diagnosis is not None else 0,
            "first_entry": mismatch.entry if mismatch else None,
            "localised": bool(mismatch and mismatch.observed is not None),
            "sentence": mismatch.sentence() if mismatch else None,
            "implied_pads": result.implied_pads}

    ratio = check_median / tf_median
    rows = [("TensorFlow: forward + both gradients", f"{tf_median * 1e3:.2f} ms", f"best {tf_best * 1e3:.2f} ms"),
            ("symconv check (y, dk, dx, every entry)", f"{check_median * 1e3:.2f} ms",
             f"best {check_best * 1e3:.2f} ms"),
            ("ratio (target <= 5)", f"{ratio:.2f}x", ""),
            ("backend calls to verify", ", ".join(f"{q} {c}" for q, c in calls.items()), "")]
    for name, item in broken.items():
        how = "named" if item["diagnosis"] else "localised"
        rows.append((f"{how}: {name}", f"{item['backend_calls']} calls",
                     f"{item['mismatching_entries']} entries differ; {item['seconds']:.1f} s"))
    width = max(len(r[0]) for r in rows)
    print(f"check of {LAYER.describe()}")
    for label, value, note in rows:
        print(f"  {label:<{width}}  {value:>24}  {note}")
    for name, item in broken.items():
        print(f"  {name}: {item['diagnosis'][0] if item['diagnosis'] else item['sentence']}")

    import tensorflow as tf
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "layer": LAYER.describe(), "tensorflow": tf.__version__, "machine": platform.machine(),
        "processor_count": os.cpu_count(), "repeats": args.repeats,
        "tf_forward_and_gradients_seconds": tf_median, "check_seconds": check_median, "ratio": ratio,
        "target_ratio": 5.0, "verify_backend_calls": calls, "probes": probes, "localisation": broken}, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")


if __name__ == "__main__":
    main()
