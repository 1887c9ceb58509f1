"""The README's timing figures, written from the recorded benchmark results.

Every timing the README states comes from a file in ``benchmarks/results/``: the README's
"Speed" list and its ResNet-50 trace figure are generated here, between ``<!-- figures NAME -->``
and ``<!-- /figures -->`` markers, each figure saying what it includes, which result file holds
it and on which CPU it was measured.  A test (``tests/test_readme_figures.py``) runs the check in
CI, so a README figure can no longer drift from the results.

Run:  python benchmarks/readme_figures.py            # check: exit 1 and the differences if stale
      python benchmarks/readme_figures.py --write    # rewrite the README's generated figures
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RESULTS = ROOT / "benchmarks" / "results"
BLOCK = re.compile(r"(<!-- figures (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /figures -->)", re.S)
# Results written before the benchmark scripts recorded the CPU's model: benchmarks/README.md
# records where they ran.
UNRECORDED_CPU = "Intel Xeon"


def result(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def where(name: str, data: dict) -> str:
    """'results/trace.json; Intel(R) Xeon(R) Processor, 2 shared cores'."""
    cpu = data.get("cpu") or UNRECORDED_CPU
    cores = data.get("processor_count") or 2
    cpu = re.sub(r"\((R|TM)\)", "", cpu).replace("  ", " ")
    return f"`results/{name}.json`; {cpu}, {cores} shared cores"


def ms(seconds: float) -> str:
    value = seconds * 1e3
    return f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"


def s(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 100 else f"{seconds / 60:.1f} minutes"


def speed() -> str:
    f, e, c, d, b, w = (result(n) for n in ("foundation", "everyday", "check", "diagnose", "backends", "sweep"))
    dk, y = f["entry_formulas"]["dk"], f["entry_formulas"]["y"]
    lines = [
        f"- one dk entry of ResNet-50's first layer as a closed form, in one process: {ms(dk['closed_form_median_s'])} "
        f"(median; {ms(dk['closed_form_cold_s'])} on a first call, the index maps included); one y entry: "
        f"{ms(y['closed_form_median_s'])} ({where('foundation', f)});",
        f"- every dk entry of a 16x16x4 -> 4, 3x3 layer as closed forms: {f['literal_ratio']['ratio_closed']:.0f} "
        f"times faster than building L = sum(g*y) and calling `sympy.diff` per kernel entry "
        f"({s(f['literal_ratio']['closed_forms_s'])} against {s(f['literal_ratio']['literal_s'])}; "
        f"{where('foundation', f)});",
        f"- the complete y, dk and dx index maps of all {f['resnet50_maps']['layers']} convolutions of ResNet-50: "
        f"{ms(f['resnet50_maps']['total_s'])} in one process ({where('foundation', f)});",
        f"- `symconv which` as a whole process (start-up included) in {f['which_process']['ratio']:.1f} times the "
        f"time of `python -c \"import sympy, numpy\"` ({ms(f['which_process']['which_s'])} against "
        f"{ms(f['which_process']['import_s'])}, medians); one dk entry of ResNet-50's first layer (12,321 "
        f"products) in {e['ratios']['which_stem_dk']:.2f} times that time, every dk entry of a 16x16x4 -> 4, 3x3 "
        f"layer (33,856 products) in {e['ratios']['which_every_dk']:.2f} times it; the stem entry's notebook "
        f"LaTeX in {ms(e['in_process']['latex_s'])} in one process ({where('foundation', f)}; "
        f"{where('everyday', e)});",
        f"- `symconv check` of a 56x56x64 -> 64, 3x3 layer against TensorFlow {c['tensorflow']} (every entry of "
        f"y, dk and dx, exactly; in one process, TensorFlow loaded): {ms(c['check_seconds'])}, "
        f"{c['ratio']:.1f} times TensorFlow's own forward and two gradients ({ms(c['tf_forward_and_gradients_seconds'])}), "
        f"with {c['verify_backend_calls']['forward']} backend calls per quantity (median of {c['repeats']}; "
        f"{where('check', c)});",
        f"- a planted bug in that layer (an off-by-one pad, a flipped or transposed kernel, an ignored stride or "
        f"dilation, another SAME convention, an im2col patch order, a dropped group) named in at most "
        f"{max(v for k, v in d['worst_calls_per_quantity'].items() if k not in ('entry', 'local', 'garbage'))} "
        f"backend calls per quantity, a wrong last output position in {d['worst_calls_per_quantity']['local']}, "
        f"{s(worst_beyond(d))} at most beyond the verification; one wrong entry localised in "
        f"{d['worst_calls_per_quantity']['entry']} ({where('diagnose', d)});",
        f"- one small sweep case (y, dk and dx) in a warm worker: "
        f"{ms(b['results']['torch, 1 thread']['new_case_seconds'])} against PyTorch and "
        f"{ms(b['results']['onnxruntime, 1 thread']['new_case_seconds'])} against ONNX Runtime with one intra-op "
        f"thread, {ms(b['results']['jax']['compiled_case_seconds'])} against JAX once the spec is compiled "
        f"(medians over {b['results']['jax']['cases']} specs; {where('backends', b)});",
        f"- `symconv matrix --size quick` over TensorFlow (oneDNN on and off, XLA, Keras), PyTorch, JAX and ONNX "
        f"Runtime with `--workers {w['matrix']['workers']}`, a whole process: {s(w['matrix']['seconds'])}; a sweep "
        f"case with both of PyTorch's gradient paths {ms(w['one_case']['torch']['median_seconds'])}, with JAX "
        f"{ms(w['one_case']['jax']['median_seconds'])} once compiled ({where('sweep', w)}).",
    ]
    return "\n".join(lines) + "\n"


def worst_beyond(diagnose: dict) -> float:
    """The longest time a named bug took beyond its verification, over the layer-sized cases."""
    return max(q["seconds_beyond_verification"] for case in diagnose["cases"].values() if "56x56x64" in case["spec"]
               for q in case["quantities"] if q["named"] and not q["named"].startswith(("localised", "garbage")))


def resnet_trace() -> str:
    t = result("trace")
    k = t["keras"]
    line = (f"For keras.applications' ResNet50 at 224x224, the check alone took {s(k['check_s'])} in a process that "
            f"had TensorFlow imported and the model built (building it took {s(k['build_model_s'])} more)")
    if "check_process_s" in k:
        line += (f"; the whole command, `{k['check_process_command']}` in a fresh process (TensorFlow's import and "
                 f"the model's load included), {s(k['check_process_s'])}")
    load = t.get("load_average_before")
    busy = f"load average {load[0]:.1f} when it started" if load else "under other jobs' load"
    return line + f" ({where('trace', t)}, {busy}):\n"


FIGURES = {"speed": speed, "resnet-trace": resnet_trace}


def rendered(text: str) -> tuple:
    """(the README with every figure block written afresh, names of the blocks that changed)."""
    changed = []

    def fill(match):
        body = FIGURES[match.group("name")]()
        if body != match.group("body"):
            changed.append(match.group("name"))
        return match.group(1) + body + match.group(4)
    unknown = [m.group("name") for m in BLOCK.finditer(text) if m.group("name") not in FIGURES]
    if unknown:
        raise SystemExit(f"README.md names figures no script writes: {', '.join(unknown)}")
    return BLOCK.sub(fill, text), changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the README's figures")
    args = parser.parse_args(argv)
    text = README.read_text()
    fresh, changed = rendered(text)
    missing = sorted(set(FIGURES) - {m.group("name") for m in BLOCK.finditer(text)})
    if args.write:
        README.write_text(fresh)
        print(f"wrote {len(changed)} figure block(s): {', '.join(changed) or 'none changed'}")
        return 0
    if changed or missing:
        print(f"README.md figures differ from benchmarks/results: {', '.join(changed + missing)} "
              f"(python benchmarks/readme_figures.py --write)")
        return 1
    print("README.md figures match benchmarks/results")
    return 0


if __name__ == "__main__":
    sys.exit(main())
