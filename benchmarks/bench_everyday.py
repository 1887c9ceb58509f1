"""Everyday use at real sizes: `symconv which` as a whole process, notebook renderings, pictures.

Run:  python benchmarks/bench_everyday.py [--quick]
Prints a table and writes benchmarks/results/everyday.json.  Processes alternate with
`python -c "import sympy, numpy"` and each figure is a median; byte-code caching is on (as for an
installed package; a first run of each command warms it).  --quick: fewer runs, no SymPy baseline.
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

import sympy

import symconv
from symconv import ConvSpec
from symconv.model.indexmap import maps_for
from symconv.symbolic import expressions as symbolic

RESULTS = Path(__file__).resolve().parent / "results" / "everyday.json"
STEM = ["conv2d", "--input", "1x224x224x3", "--kernel", "7x7x3x64", "--strides", "2", "--padding", "SAME"]
SMALL = ["conv2d", "--input", "1x16x16x4", "--kernel", "3x3x4x4", "--padding", "SAME"]
PROCESSES = {
    "import": [sys.executable, "-c", "import sympy, numpy"],
    "which_stem_dk": [sys.executable, "-m", "symconv", "which", *STEM, "--entry", "dk[0,0,1,5]"],
    "which_stem_dk_json": [sys.executable, "-m", "symconv", "which", *STEM, "--entry", "dk[0,0,1,5]", "--json"],
    "which_every_dk": [sys.executable, "-m", "symconv", "which", *SMALL, "--entry", "dk"],
    "which_reads": [sys.executable, "-m", "symconv", "which", *STEM, "--reads", "x[0,5,5,0]"],
    "explain_stem_entries": [sys.executable, "-m", "symconv", "explain", *STEM, "--entry", "y[0,0,0,5]",
                             "--entry", "dk[0,0,1,5]", "--entry", "dx[0,5,5,0]"],
}
LABELS = {
    "import": 'python -c "import sympy, numpy"',
    "which_stem_dk": "symconv which, ResNet-50 stem dk[0,0,1,5] (12,321 products), text",
    "which_stem_dk_json": "the same, --json (every product listed)",
    "which_every_dk": "symconv which --entry dk, 16x16x4 -> 4, 3x3 SAME (144 entries, 33,856 products)",
    "which_reads": "symconv which --reads x[0,5,5,0], ResNet-50 stem (576 + 576 entries)",
    "explain_stem_entries": "symconv explain --entry (3 entries of the ResNet-50 stem, exact values)",
}
TARGETS = {"which_stem_dk": ("ratio", 2.0), "which_every_dk": ("seconds", 1.5)}


def processes(runs: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times = {name: [] for name in PROCESSES}
    for round_ in range(runs + 1):
        for name, cmd in PROCESSES.items():
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            if round_:  # the first round warms the byte-code cache
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def in_process(quick: bool) -> dict:
    stem = ConvSpec("conv2d", "1x224x224x3", "7x7x3x64", strides=2, padding="SAME")
    out = {}
    maps_for.cache_clear()
    out["latex_s"], latex = timed(lambda: symconv.which(stem, "dk[0,0,1,5]")._repr_latex_())
    out["latex_chars"] = len(latex)
    out["html_s"], html = timed(lambda: symconv.which(stem, "dk[0,0,1,5]")._repr_html_())
    out["html_chars"] = len(html)
    out["json_s"], _ = timed(lambda: symconv.which(stem, "dk[0,0,1,5]").to_json())
    try:
        import matplotlib  # noqa: F401
        out["picture_s"], _ = timed(lambda: symconv.which(stem, "y[0,0,0,0]").plot().png())
    except ImportError:
        out["picture_s"] = None
    if not quick:
        # The route the renderings took before: the explicit sum through SymPy, then its printers.
        def through_sympy():
            expr = symbolic.expression(stem, "filter_grad", (0, 0, 1, 5))
            return sympy.latex(expr, order="none"), sympy.sstr(expr, order="none")
        out["sympy_route_s"], (old, _) = timed(through_sympy)
        out["sympy_route_latex_chars"] = len(old)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 runs per process, no SymPy baseline")
    args = parser.parse_args()
    runs = 3 if args.quick else 9
    proc = processes(runs)
    inner = in_process(args.quick)
    base = proc["import"]
    print(f"{'measurement (whole process, median of ' + str(runs) + ')':<92} {'value':>9} {'ratio':>7} {'target':>8}")
    for name, seconds in proc.items():
        kind, target = TARGETS.get(name, (None, None))
        goal = f"<= {target:g}x" if kind == "ratio" else (f"<= {target:g} s" if kind else "")
        ratio = "" if name == "import" else f"{seconds / base:.2f}x"
        print(f"{LABELS[name]:<92} {seconds * 1e3:>6.0f} ms {ratio:>7} {goal:>8}")
    print()
    print(f"{'in one process, ResNet-50 stem dk[0,0,1,5]':<92} {'value':>9}")
    print(f"{'  _repr_latex_ (closed form, 6 products, the count): ' + str(inner['latex_chars']) + ' characters':<92}"
          f" {inner['latex_s'] * 1e3:>6.1f} ms")
    print(f"{'  _repr_html_ (a table with the cropped grid)':<92} {inner['html_s'] * 1e3:>6.1f} ms")
    print(f"{'  to_json (every product listed)':<92} {inner['json_s'] * 1e3:>6.1f} ms")
    if inner["picture_s"] is not None:
        print(f"{'  a picture of y[0,0,0,0] (matplotlib, PNG bytes; includes importing matplotlib)':<92} "
              f"{inner['picture_s'] * 1e3:>6.0f} ms")
    if "sympy_route_s" in inner:
        label = f"  before: the explicit sum through SymPy, then its printers ({inner['sympy_route_latex_chars']} " \
                f"characters of LaTeX)"
        print(f"{label:<92} {inner['sympy_route_s'] * 1e3:>6.0f} ms")
    results = {"machine": f"{platform.processor() or platform.machine()}, python {platform.python_version()}, "
                          f"sympy {sympy.__version__}", "runs": runs, "processes_s": proc,
               "ratios": {name: proc[name] / base for name in proc}, "in_process": inner,
               "targets": {name: {"kind": kind, "value": value} for name, (kind, value) in TARGETS.items()}}
    if not args.quick:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
