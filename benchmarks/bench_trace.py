"""Speed of whole-network provenance on ResNet-50: Keras (keras.applications, weights=None)
and a torchvision-style ResNet-50 written in plain PyTorch, traced with torch.fx.

Run:  python benchmarks/bench_trace.py [--only keras|torch] [--threads 2]
Prints a table and writes benchmarks/results/trace.json.  Targets, per framework: the exact
provenance of one entry of the last block <= 2 s in-process, the affine summary of every
layer <= 1 s, the check against the model's own gradient <= 20 s on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from machine import cpu_model  # noqa: E402  (benchmarks/machine.py)

RESULTS = ROOT / "benchmarks" / "results" / "trace.json"

# (layer, first entry, further entries), in each framework's own names and layout
CASES = {
    "keras": ("conv5_block3_out", (0, 0, 0, 5), [(0, 3, 3, 5), (0, 6, 2, 100), (0, 1, 5, 2047)]),
    "torch": ("layer4", (0, 5, 0, 0), [(0, 5, 3, 3), (0, 100, 6, 2), (0, 2047, 1, 5)]),
}


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - start, value


def build(framework: str, threads: int):
    if framework == "keras":
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        import keras
        return keras.applications.ResNet50(weights=None), None
    import torch
    torch.set_num_threads(threads)
    from tests.network_models import torch_resnet50
    return torch_resnet50(), "1x3x224x224"


def bench(framework: str, threads: int) -> dict:
    from symconv.network import check, network, trace
    from symconv.network.affine import summaries
    layer, first, others = CASES[framework]
    build_s, (model, shape) = timed(build, framework, threads)
    import_s, net = timed(network, model, shape)
    cold_s, answer = timed(trace, net, layer, first)
    warm = [timed(trace, net, layer, e)[0] for e in others]
    text_s, text = timed(answer.text)
    summary_s, table = timed(summaries, net)
    check_s, report = timed(check, model, layer, first, input_shape=shape)
    inp = report.input_comparison
    whole = whole_process(model, layer, first) if framework == "keras" else {}
    return {**whole,
        "model": net.describe(), "layer": answer.layer, "entry": list(first), "tensors": len(net.nodes),
        "build_model_s": build_s, "import_network_s": import_s,
        "provenance_first_s": cold_s, "provenance_median_s": statistics.median(warm),
        "provenance_target_s": 2.0, "terms_at_input": len(answer.terms), "entries_read": answer.entry_count,
        "paths_digits": len(str(answer.paths)), "text_s": text_s,
        "affine_summaries_s": summary_s, "affine_layers": len(table) - 1, "affine_target_s": 1.0,
        "check_s": check_s, "check_target_s": 20.0, "check_ok": report.ok,
        "check_tensors": len(report.comparisons),
        "check_values_exact": sum(c.compared == "values" for c in report.comparisons),
        "check_input": {"relation": inp.relation, "compared": inp.compared, "model_entries": inp.reached,
                        "symconv_entries": inp.read},
        "text_first_lines": text.splitlines()[:3],
    }


def whole_process(model, layer, entry) -> dict:
    """``symconv trace --model FILE.keras --entry ... --check`` as a fresh process: TensorFlow's
    import, loading the saved model, the trace and the check, as a user meets it."""
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "resnet50.keras")
        model.save(path)
        argv = [sys.executable, "-m", "symconv", "trace", "--model", path, "--entry",
                f"{layer}[{','.join(map(str, entry))}]", "--check"]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
        seconds = time.perf_counter() - start
    return {"check_process_s": seconds, "check_process_exit": done.returncode,
            "check_process_command": "symconv trace --model resnet50.keras --entry "
                                     f"{layer}[{','.join(map(str, entry))}] --check"}


def rows_of(name: str, r: dict) -> list:
    whole = [(f"{name}: the whole command, a fresh process ({r['check_process_command']}; TensorFlow's import "
              f"and the model's load included)", r["check_process_s"], None)] if "check_process_s" in r else []
    return whole + [
        (f"{name}: build the model (weights=None)", r["build_model_s"], None),
        (f"{name}: read the graph into symconv ({r['tensors']} tensors)", r["import_network_s"], None),
        (f"{name}: exact provenance of {r['layer']}{r['entry']}, first call "
         f"({r['terms_at_input']} separable terms at the input)", r["provenance_first_s"], 2.0),
        (f"{name}: the same, median of 3 other entries", r["provenance_median_s"], 2.0),
        (f"{name}: text answer (exact maximum included)", r["text_s"], None),
        (f"{name}: affine summaries of all {r['affine_layers']} layers", r["affine_summaries_s"], 1.0),
        (f"{name}: check against the model's gradient ({r['check_tensors']} tensors, "
         f"{'agrees' if r['check_ok'] else 'DIFFERS'})", r["check_s"], 20.0),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(CASES), action="append")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    results = {"machine": f"{platform.processor() or platform.machine()}, python {platform.python_version()}",
               "processor_count": os.cpu_count(), "threads": args.threads, "cpu": cpu_model(),
               "load_average_before": list(os.getloadavg())}
    rows = []
    for framework in args.only or sorted(CASES):
        r = bench(framework, args.threads)
        results[framework] = r
        rows += rows_of("Keras ResNet50" if framework == "keras" else "PyTorch ResNet-50 (fx)", r)
    print(f"{'measurement':<100} {'value':>10} {'target':>8}")
    for label, value, target in rows:
        tgt = f"<= {target:g} s" if target else ""
        print(f"{label:<100} {value:>8.2f} s {tgt:>8}")
    if not args.no_write:
        old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        old.update(results)
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(old, indent=2) + "\n")
        print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
