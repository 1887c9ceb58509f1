"""Speed of the exact model: formulas, index maps, and `symconv which` start-up.

Run:  python benchmarks/bench_foundation.py [--quick]
Prints a table and writes benchmarks/results/foundation.json.  --quick skips the literal
sympy.diff baseline (about a minute or more) and shortens the process timings.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import sympy

from symconv import ConvSpec
from symconv.model.indexmap import IndexMaps, maps_for
from symconv.symbolic import expressions as symbolic

RESULTS = Path(__file__).resolve().parent / "results" / "foundation.json"

RESNET_STEM = ConvSpec("conv2d", "1x224x224x3", "7x7x3x64", strides=2, padding="SAME")
SMALL_LAYER = ConvSpec("conv2d", "1x16x16x4", "3x3x4x4", strides=1, padding="SAME")


def resnet50_layers():
    """Every convolution of ResNet-50 (torchvision v1.5: stride on the 3x3) at 224x224, batch 1."""
    layers = [("conv1", 224, 3, 64, 7, 2)]
    size, channels = 56, 64
    for stage, (width, blocks, stride) in enumerate([(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)], start=1):
        for block in range(blocks):
            s = stride if block == 0 else 1
            out = size // s
            name = f"layer{stage}.{block}"
            layers += [(f"{name}.conv1", size, channels, width, 1, 1),
                       (f"{name}.conv2", size, width, width, 3, s),
                       (f"{name}.conv3", out, width, 4 * width, 1, 1)]
            if block == 0:
                layers.append((f"{name}.downsample", size, channels, 4 * width, 1, s))
            size, channels = out, 4 * width
    return [(name, ConvSpec("conv2d", f"1x{hw}x{hw}x{cin}", f"{k}x{k}x{cin}x{cout}", strides=s, padding="SAME"))
            for name, hw, cin, cout, k, s in layers]


def timed(fn, *args):
    start = time.perf_counter()
    value = fn(*args)
    return time.perf_counter() - start, value


def entry_formulas(rows, quick):
    """One dk entry and one y entry of ResNet-50's stem: closed form, cold and warm."""
    results = {}
    for quantity, first, others in [
        ("filter_grad", (0, 0, 1, 5), [(a, b, c, o) for a, b, c, o in zip(range(7), range(6, -1, -1), [0, 1, 2] * 3, range(5, 64, 8))]),
        ("forward", (0, 0, 0, 5), [(0, i, (3 * i) % 112, i % 64) for i in range(1, 40)]),
    ]:
        maps_for.cache_clear()
        cold, _ = timed(symbolic.closed_form, RESNET_STEM, quantity, first)  # builds the maps too
        warm = statistics.median(timed(symbolic.closed_form, RESNET_STEM, quantity, idx)[0] for idx in others)
        explicit, expr = timed(symbolic.expression, RESNET_STEM, quantity, first)
        terms = len(expr.args) if isinstance(expr, sympy.Add) else 1
        name = {"filter_grad": "dk", "forward": "y"}[quantity]
        target = {"filter_grad": 0.020, "forward": 0.002}[quantity]
        results[name] = {"closed_form_cold_s": cold, "closed_form_median_s": warm, "explicit_s": explicit,
                         "terms": terms, "target_s": target}
        rows.append((f"ResNet-50 stem, one {name} entry: closed form (first call, incl. maps)", cold, target))
        rows.append((f"ResNet-50 stem, one {name} entry: closed form (median of {len(others)})", warm, target))
        rows.append((f"ResNet-50 stem, one {name} entry: explicit sum of {terms} products", explicit, None))
    return results


def literal_ratio(rows, quick):
    """Every dk entry of 1x16x16x4 * 3x3x4x4 SAME: closed forms and explicit sums vs sympy.diff."""
    spec = SMALL_LAYER
    kernel_entries = [tuple(i) for i in __import__("itertools").product(*map(range, spec.k_shape))]
    maps_for.cache_clear()
    symbolic.entry.cache_clear()
    closed, forms = timed(lambda: [symbolic.closed_form(spec, "filter_grad", i) for i in kernel_entries])
    explicit, exprs = timed(lambda: [symbolic.expression(spec, "filter_grad", i) for i in kernel_entries])
    out = {"entries": len(kernel_entries), "closed_forms_s": closed, "explicit_s": explicit}
    rows.append((f"16x16x4 -> 4, 3x3 SAME: all {len(kernel_entries)} dk entries as closed forms", closed, None))
    rows.append((f"16x16x4 -> 4, 3x3 SAME: all {len(kernel_entries)} dk entries as explicit sums", explicit, None))
    if quick:
        return out
    gc.collect()
    literal, derivation = timed(symbolic.literal_derivation, spec, 10**6, ("filter_grad",))
    assert all(derivation.filter_grad[i] == e for i, e in zip(kernel_entries, exprs)), "routes disagree"
    assert all(f.doit() == e for f, e in zip(forms[:8], exprs[:8])), "closed forms disagree"
    out.update(literal_s=literal, ratio_closed=literal / closed, ratio_explicit=literal / explicit, target_ratio=1000)
    rows.append(("16x16x4 -> 4, 3x3 SAME: literal L = sum(g*y) + sympy.diff per dk entry", literal, None))
    rows.append(("  ratio literal / closed forms (target >= 1000)", literal / closed, "ratio"))
    rows.append(("  ratio literal / explicit sums", literal / explicit, "ratio"))
    return out


def resnet_maps(rows, quick):
    """Complete y, dk and dx maps (factorised taps + dense spatial maps) of every ResNet-50 conv."""
    layers = resnet50_layers()
    maps_for.cache_clear()
    start = time.perf_counter()
    sizes = 0
    for _, spec in layers:
        maps = IndexMaps(spec)
        fwd = maps.forward_spatial()
        dk = maps.filter_grad_spatial()
        indptr, small, kernel = maps.input_grad_spatial()
        sizes += fwd.nbytes + indptr.nbytes + small.nbytes + kernel.nbytes + sum(t.nbytes for t in maps.taps)
        assert dk.shape == spec.kernel_spatial + spec.direct_output_spatial
    total = time.perf_counter() - start
    rows.append((f"ResNet-50 (all {len(layers)} convs, 224x224): complete y/dk/dx maps", total, 2.0))
    return {"layers": len(layers), "total_s": total, "bytes": sizes, "target_s": 2.0}


def process_times(rows, quick):
    """Whole-process `symconv which` vs `python -c "import sympy, numpy"`, alternating runs."""
    runs = 5 if quick else 15
    base = [sys.executable, "-c", "import sympy, numpy"]
    query = [sys.executable, "-m", "symconv", "which", "conv2d", "--input", "1x3x3x1", "--kernel", "1x1x1x1",
             "--strides", "3", "--padding", "SAME", "--entry", "dk[0,0,0,0]", "--json"]
    times = {"base": [], "which": []}
    for _ in range(runs + 1):
        for key, cmd in (("base", base), ("which", query)):
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times[key].append(time.perf_counter() - start)
    base_s, which_s = statistics.median(times["base"][1:]), statistics.median(times["which"][1:])
    rows.append(('python -c "import sympy, numpy" (median)', base_s, None))
    rows.append(("symconv which, founding case (median)", which_s, None))
    rows.append(("  ratio (target <= 1.5)", which_s / base_s, "ratio"))
    return {"runs": runs, "import_s": base_s, "which_s": which_s, "ratio": which_s / base_s, "target_ratio": 1.5}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the literal baseline; fewer process runs")
    args = parser.parse_args()
    rows = []
    results = {"machine": f"{platform.processor() or platform.machine()}, python {platform.python_version()}, "
                          f"sympy {sympy.__version__}", "quick": args.quick}
    for name, bench in (("entry_formulas", entry_formulas), ("literal_ratio", literal_ratio),
                        ("resnet50_maps", resnet_maps), ("which_process", process_times)):
        results[name] = bench(rows, args.quick)
    print(f"{'measurement':<78} {'value':>12} {'target':>10}")
    for label, value, target in rows:
        if target == "ratio":
            print(f"{label:<78} {value:>11.1f}x {'':>10}")
        else:
            tgt = f"{target * 1e3:.0f} ms" if isinstance(target, float) and target < 1 else \
                (f"{target:.0f} s" if target else "")
            print(f"{label:<78} {value * 1e3:>9.2f} ms {tgt:>10}")
    if not args.quick:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")


if __name__ == "__main__":
    main()
