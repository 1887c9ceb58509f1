"""The conformance matrix: every installed backend and variant through the sweep, as one report.

Each *run* is a backend with one variant and gradient path (``MatrixRun``).  For every run x op
x padding mode the report gives the convention observed and whether y, dk and dx read the same
padding: where ``check`` found a quantity exactly right, the pads it used are the model's (every
entry agrees), which is what ``infer`` would read; where it found a difference, ``infer`` reads
the pads from one-hot probes.  Then every disagreement between frameworks with its smallest
failing case and the command that shows it, and every failure mode (exceptions, wrong shapes,
garbage).  A GPU run on a machine without a GPU is reported as not run.

Each run records the machine (the CPU's model and vector extensions, or the GPU) and what the
framework said about itself where it ran (``Backend.facts``: TensorFlow's oneDNN, asked of
TensorFlow in the worker, not read from the flag).  Each finding's smallest case is checked again
``recheck`` times, each time in a fresh process, so that the report says how often an intermittent
finding (uninitialised memory, say) reproduced.

``symconv matrix -o docs/conformance.md`` writes the report (``symconv.matrix_report``);
``conformance_rows`` reads its rows back, so that a test can compare a slice it computes with
the committed file.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from ..backends import BACKENDS, BUILTIN, Variant, missing_framework
from ..model.conventions import REGISTRY
from ..model.spec import OPS, QUANTITIES, TENSOR_OF
from .cases import PADDING_LABELS, padding_label
from .refusals import Contrast, spelled_otherwise  # noqa: F401  Contrast: from here too
from .report import refusal_text
from .run import Target, checked, sweep

SYMBOL = {q: TENSOR_OF[q] for q in QUANTITIES}   # forward -> y, filter_grad -> dk, input_grad -> dx
NOT_RUN = "not run"
# The CPU features worth naming for convolution kernels (as /proc/cpuinfo spells them); TensorFlow
# turns oneDNN on by default only with avx512_vnni, avx512_bf16, avx_vnni or amx.
VECTOR_EXTENSIONS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16",
                     "avx_vnni", "amx_tile", "amx_int8", "amx_bf16", "asimd", "sve")
RECHECK = 3   # fresh runs of each finding's smallest case


@dataclass(frozen=True)
class MatrixRun:
    """One backend with one variant and gradient path, named for the report."""

    name: str
    backend: str
    variant: Variant
    grad_path: str = "raw"

    @property
    def device(self) -> str:
        return self.variant.device

    @property
    def target(self) -> Target:
        return Target(self.backend, variant=self.variant, grad_path=self.grad_path)

    @property
    def path(self):
        """The execution path this run takes (``symconv.backends.execution``)."""
        from ..backends.execution import execution_of, reference_path
        return execution_of(self.backend, self.variant) or reference_path(self.backend)

    @property
    def framework(self) -> str:
        return self.path.framework


def default_runs() -> dict:
    """backend -> its runs: the variants worth comparing, CPU then GPU.  PyTorch and ONNX
    Runtime run with one intra-op thread (their idle-spinning pools cost more than they give on
    a busy machine; thread counts are a variant of their own in the tests)."""
    one = dict(threads=1)
    return {
        "numpy": [MatrixRun("numpy", "numpy", Variant())],
        "tf": [MatrixRun("tf-onednn-on", "tf", Variant(onednn=True), "both"),
               MatrixRun("tf-onednn-off", "tf", Variant(onednn=False), "both"),
               MatrixRun("tf-convolution", "tf", Variant(onednn=True, api="convolution"), "tape"),
               MatrixRun("tf-gpu", "tf", Variant("gpu"), "both")],
        "tf-xla": [MatrixRun("tf-xla", "tf-xla", Variant(onednn=True), "both")],
        "keras": [MatrixRun("keras", "keras", Variant(onednn=True), "raw"),
                  MatrixRun("keras-jax", "keras", Variant(keras_backend="jax"), "raw"),
                  MatrixRun("keras-torch-1-thread", "keras", Variant(keras_backend="torch", **one), "raw")],
        "torch": [MatrixRun("torch-1-thread", "torch", Variant(**one), "both"),
                  MatrixRun("torch-mkldnn-off-1-thread", "torch", Variant(mkldnn=False, **one), "both"),
                  MatrixRun("torch-deterministic-1-thread", "torch", Variant(deterministic=True, **one), "both"),
                  MatrixRun("torch-channels-last-1-thread", "torch", Variant(memory_format="channels_last", **one),
                            "both"),
                  MatrixRun("torch-compile-inductor-1-thread", "torch", Variant(compile="inductor", **one), "tape"),
                  MatrixRun("torch-gpu", "torch", Variant("gpu"), "both"),
                  MatrixRun("torch-gpu-cudnn-benchmark", "torch", Variant("gpu", cudnn_benchmark=True), "both"),
                  MatrixRun("torch-compile-inductor-gpu", "torch", Variant("gpu", compile="inductor"), "tape")],
        "jax": [MatrixRun("jax", "jax", Variant()), MatrixRun("jax-eager", "jax", Variant(jit=False)),
                MatrixRun("jax-gpu", "jax", Variant("gpu"))],
        "onnxruntime": [MatrixRun("onnxruntime-1-thread", "onnxruntime", Variant(**one)),
                        MatrixRun("onnxruntime-no-graph-optimization-1-thread", "onnxruntime",
                                  Variant(graph_optimization=False, **one)),
                        MatrixRun("onnxruntime-from-torch-1-thread", "onnxruntime", Variant(onnx_from="torch", **one)),
                        MatrixRun("onnxruntime-from-tf-1-thread", "onnxruntime", Variant(onnx_from="tf", **one))],
        "litert": [MatrixRun("litert-xnnpack-1-thread", "litert", Variant(**one)),
                   MatrixRun("litert-builtin-1-thread", "litert", Variant(xnnpack=False, **one))],
        "openvino": [MatrixRun("openvino-from-onnx-1-thread", "openvino", Variant(**one)),
                     MatrixRun("openvino-from-torch-1-thread", "openvino", Variant(openvino_from="torch", **one))],
    }


def matrix_runs(backends=None) -> list:
    """The runs for ``backends`` (default: every registered backend whose framework is
    installed, each run whose execution path's requirements are met); a backend registered by a
    third party runs its default variant.  A name may also be one run's (``keras-jax``)."""
    from ..errors import SymconvError, shown
    known = default_runs()
    by_name = {run.name: run for runs in known.values() for run in runs}
    if backends is None:
        names = [name for name in BACKENDS if missing_framework(name) is None]
        return [run for name in names for run in known.get(name, [MatrixRun(name, name, Variant())])
                if run.backend not in BUILTIN or not run.path.problems()]
    try:
        names = [b.strip() for b in backends.split(",")] if isinstance(backends, str) else list(backends)
    except TypeError:
        names = [backends]
    unknown = [n for n in names if not isinstance(n, str) or (n not in BACKENDS and n not in by_name)]
    if unknown or not names:
        raise SymconvError(f"backends must be among {', '.join(BACKENDS)} (or a run's name, such as keras-jax), "
                           f"got {shown(names)}")
    return [run for name in names
            for run in ([by_name[name]] if name in by_name and name not in BACKENDS else
                        known.get(name, [MatrixRun(name, name, Variant())]))]


# ---- the machine ------------------------------------------------------------------------------

# Python that prints the name of the first GPU a framework sees (nothing when it sees none).
GPU_CARD_CODE = {
    "torch": "import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')",
    "jax": "import jax\ntry:\n    print(jax.devices('gpu')[0].device_kind)\nexcept RuntimeError:\n    print('')",
}


def _cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            return info.read()
    except OSError:
        return ""


def cpu_extensions(cpuinfo: str | None = None) -> list:
    """The VECTOR_EXTENSIONS this CPU has, from /proc/cpuinfo's flags (empty where there is no
    such file)."""
    found = re.search(r"^(?:flags|Features)\s*:\s*(.*)$", _cpuinfo() if cpuinfo is None else cpuinfo, re.M)
    flags = set(found.group(1).split()) if found else set()
    return [name for name in VECTOR_EXTENSIONS if name in flags]


def cpu_card() -> str:
    """The CPU's model name, core count and vector extensions."""
    name = platform.processor() or platform.machine()
    found = re.search(r"^model name\s*:\s*(.+)$", _cpuinfo(), re.M)
    if found:
        name = found.group(1).strip()
    extensions = cpu_extensions()
    return f"{name}, {os.cpu_count()} cores ({', '.join(extensions) if extensions else 'extensions unknown'})"


def tensorflow_default() -> str | None:
    """Whether TensorFlow, as installed here and started with this environment, turns oneDNN on
    by default (its own answer), or None without TensorFlow."""
    if missing_framework("tf") is not None:
        return None
    from ..backends.tf_backend import on_off, onednn_default
    answer = onednn_default()
    return None if answer is None else on_off(answer)


def gpu_card(backend: str, timeout: float = 120.0) -> str | None:
    """The GPU a backend's framework sees, asked in a child process (None: none)."""
    code = GPU_CARD_CODE.get(backend)
    if code is None or missing_framework(backend) is not None:
        return None
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    name = done.stdout.strip().splitlines()[-1:] if done.returncode == 0 else []
    return name[0] if name and name[0] else None


def versions() -> dict:
    """Versions of Python, symconv and every framework installed (distribution -> version)."""
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__
    out = {"python": platform.python_version(), "symconv": __version__}
    for package in ("numpy", "sympy", "tensorflow", "tensorflow-cpu", "keras", "torch", "jax", "jaxlib",
                    "onnxruntime", "onnx", "ai-edge-litert", "openvino", "tf2onnx", "onnxscript"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            pass
    return out


# ---- readings: the pads each quantity used --------------------------------------------------------

def fitting_conventions(spec, befores) -> frozenset:
    """The registered conventions that resolve SAME to these pads before on every axis."""
    names = set()
    for name, convention in REGISTRY.items():
        resolved = [convention(size, k, s, d) for size, k, s, d in
                    zip(spec.direct_input_spatial, spec.kernel_spatial, spec.strides, spec.dilations)]
        if all(r.before == b and r.out == out for r, b, out in zip(resolved, befores, spec.direct_output_spatial)):
            names.add(name)
    return frozenset(names)


def infer_findings(runner, results) -> dict:
    """case id -> InferReport for every case with a finding: the pads the backend was seen to
    use, read from one-hot probes."""
    from ..checks.inference import infer
    out = {}
    for result in results:
        if result.findings and not result.spec.is_empty:
            out[result.case_id] = infer(result.spec, runner=runner)
    return out


def readings_of(result, inferred=None) -> dict:
    """quantity -> pads before per axis (None: not read) for one case: the model's pads where
    check found the quantity exactly right, infer's reading where it found a finding."""
    spec = result.spec
    out = {}
    for quantity in QUANTITIES:
        verdicts = [v for v in result.verdicts if v.quantity == quantity]
        if not verdicts or spec.is_empty:
            continue
        if any(v.verdict == "finding" for v in verdicts):
            reading = None if inferred is None else inferred.quantities.get(quantity)
            if reading is not None and reading.pads is not None and all(p is not None for p in reading.pads):
                out[quantity] = tuple(p[0] for p in reading.pads)
            continue
        if all(v.verdict == "ok" for v in verdicts):
            out[quantity] = tuple(b for b, _ in spec.pads)
    return out


def _label(spec, befores) -> str:
    """How a reading is named: the convention asked for when it fits, else the conventions
    that fit, else the pads; for explicit pads and VALID, 'as given' or the pads."""
    model = tuple(b for b, _ in spec.pads)
    if spec.padding != "SAME":
        return "as given" if befores == model else "pads before " + ",".join(map(str, befores))
    fits = fitting_conventions(spec, befores)
    if spec.convention in fits:
        return spec.convention
    if fits:
        return "/".join(sorted(fits))
    return "pads before " + ",".join(map(str, befores))


# ---- rows: run x op, one cell per padding mode ----------------------------------------------------

@dataclass
class Cell:
    cases: int = 0
    verdicts: Counter = field(default_factory=Counter)
    labels: dict = field(default_factory=dict)        # quantity -> Counter of labels
    read: set = field(default_factory=set)            # quantities read on some case
    clashes: int = 0                                  # cases whose quantities read different pads

    def add(self, result, readings: dict) -> None:
        self.cases += 1
        self.verdicts[result.verdict] += 1
        for quantity, befores in readings.items():
            self.labels.setdefault(quantity, Counter())[_label(result.spec, befores)] += 1
            self.read.add(quantity)
        if len(set(readings.values())) > 1:
            self.clashes += 1

    def observed(self) -> str:
        if not self.labels:
            return "nothing read"
        texts = {q: ", ".join(label if len(c) == 1 else f"{label} ({n})" for label, n in c.most_common())
                 for q, c in self.labels.items()}
        if len(set(texts.values())) == 1:
            return next(iter(texts.values()))
        return "; ".join(f"{SYMBOL[q]}: {text}" for q, text in texts.items())

    def agreement(self) -> str:
        read = [SYMBOL[q] for q in QUANTITIES if q in self.read]
        if not read:
            return "-"
        if len(read) == 1:
            return f"{read[0]} only"
        if self.clashes:
            return f"{'/'.join(read)} differ in {self.clashes} case{'s' if self.clashes != 1 else ''}"
        return "=".join(read)

    def counts(self) -> str:
        return ", ".join(f"{self.verdicts[v]} {v if v != 'finding' or self.verdicts[v] == 1 else 'findings'}"
                         for v in ("ok", "refused", "finding", "skipped") if self.verdicts[v])

    def text(self) -> str:
        if not self.cases:
            return ""
        return f"{self.observed()}; {self.agreement()}; {self.counts()}"


def rows_of(run: MatrixRun, results, inferred: dict) -> dict:
    """(run name, device, op) -> {padding label: cell text} for one run's sweep results."""
    cells = {}
    for result in results:
        cell = cells.setdefault(result.spec.op, {}).setdefault(padding_label(result.spec), Cell())
        cell.add(result, readings_of(result, inferred.get(result.case_id)))
    rows = {}
    for op in OPS:
        if op in cells:
            rows[(run.name, run.device, op)] = {label: cells[op][label].text() if label in cells[op] else ""
                                                for label in PADDING_LABELS}
    return rows


ROW_HEAD = ["run", "device", "op", *PADDING_LABELS]


def row_cells(key, cells) -> list:
    """A row as its list of cells: the key, then one cell per padding mode."""
    return [*key, *(cells.get(label, "") for label in PADDING_LABELS)]


def row_line(key, cells) -> str:
    """A row of the Markdown table (pipes in a cell escaped)."""
    return "| " + " | ".join(c.replace("|", "\\|") for c in row_cells(key, cells)) + " |"


def conformance_rows(text: str) -> dict:
    """(run, device, op) -> the row's cells, read from a report's table of conventions."""
    section = text.split("## Conventions observed", 1)[-1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if not line.startswith("| "):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])]
        if len(cells) == len(ROW_HEAD) and cells[0] != "run":
            rows[tuple(cells[:3])] = cells
    return rows


# ---- running it ------------------------------------------------------------------------------------

@dataclass
class Recheck:
    """How often a finding's smallest case failed again in ``runs`` fresh runs, and how (the
    kinds seen: uninitialised memory reads as garbage one time, as wrong values another)."""

    reproduced: int
    runs: int
    kinds: Counter = field(default_factory=Counter)

    def text(self) -> str:
        kinds = ", ".join(f"{kind} {n}" for kind, n in self.kinds.most_common()) if len(self.kinds) > 1 else ""
        return f"{self.reproduced} of {self.runs} runs" + (f" ({kinds})" if kinds else "")


def finding_key(result, finding) -> tuple:
    """The smallest case of a finding (its spec), its quantity and route: what a recheck reruns."""
    return (finding.smallest or result.spec, finding.verdict.quantity, finding.verdict.route)


@dataclass
class RunResult:
    run: MatrixRun
    card: str
    results: list = field(default_factory=list)
    inferred: dict = field(default_factory=dict)
    seconds: float = 0.0
    not_run: str = ""        # why it did not run
    facts: dict = field(default_factory=dict)     # what the framework said about itself where it ran
    rechecks: dict = field(default_factory=dict)   # finding_key -> Recheck
    contrasts: list = field(default_factory=list)  # refusals of cases the run computes said another way

    def recheck_of(self, result, finding):
        return self.rechecks.get(finding_key(result, finding))

    @property
    def rows(self) -> dict:
        if self.not_run:
            return {(self.run.name, self.run.device, "every op"):
                    {label: f"{NOT_RUN}: {self.not_run}" if i == 0 else "" for i, label in enumerate(PADDING_LABELS)}}
        return rows_of(self.run, self.results, self.inferred)


def run_one(run: MatrixRun, size: str = "quick", ops=None, workers: int | None = None, scheduler=None,
            progress=None, recheck: int = RECHECK) -> RunResult:
    """One run through the sweep, its findings read by infer and each checked ``recheck`` times
    more in fresh processes; what the framework says about itself, asked where it runs."""
    from ..backends import backend_class, open_runner
    from ..backends.base import Backend
    start = time.perf_counter()
    if run.device == "cpu":
        card = cpu_card()
    else:
        card = gpu_card(run.backend)
        if card is None:
            return RunResult(run, "", not_run="no GPU on this machine")
    report = sweep(run.backend, variant=run.variant, grad_path=run.grad_path, size=size, ops=ops, workers=workers,
                   scheduler=scheduler, progress=progress)
    inferred, facts, contrasts = {}, {}, []
    has_facts = backend_class(run.backend).facts is not Backend.facts
    refused = any(v.verdict == "refused" for r in report.results for v in r.verdicts)
    if has_facts or any(r.findings for r in report.results):   # a backend started again
        path = "raw" if run.grad_path == "both" else run.grad_path
        with open_runner(run.backend, variant=run.variant, grad_path=path, isolate=True) as runner:
            facts = runner.facts() if has_facts else {}
            inferred = infer_findings(runner, report.results)
    if refused:
        with open_runner(run.backend, variant=run.variant, grad_path=run.grad_path, isolate=True) as runner:
            contrasts = spelled_otherwise(run, runner, report.results)
    rechecks = recheck_findings(run, report.results, recheck)
    return RunResult(run, card, report.results, inferred, time.perf_counter() - start, facts=facts, rechecks=rechecks,
                     contrasts=contrasts)


def recheck_findings(run: MatrixRun, results, times: int = RECHECK) -> dict:
    """finding_key -> Recheck: each finding's smallest case checked ``times`` times more, each
    time in a fresh process (uninitialised memory shows, or not, per process) with another seed;
    reproduced when the same quantity along the same route is a finding again."""
    from ..backends import open_runner
    keys = list(dict.fromkeys(finding_key(r, f) for r in results for f in r.findings))
    rechecks = {key: Recheck(0, 0) for key in keys}
    for attempt in range(times if keys else 0):
        with open_runner(run.backend, variant=run.variant, grad_path=run.grad_path, isolate=True) as runner:
            for spec, quantity, route in keys:
                _, verdicts = checked(runner, spec, [quantity], seed=attempt + 1)
                found = [v for v in verdicts if v.route == route and v.verdict == "finding"]
                recheck = rechecks[(spec, quantity, route)]
                recheck.runs += 1
                if found:
                    recheck.reproduced += 1
                    recheck.kinds[found[0].kind or found[0].status] += 1
    return rechecks


@dataclass
class Matrix:
    size: str
    runs: list
    date: str
    versions: dict
    seconds: float = 0.0
    command: str = ""
    machine: str = ""                 # the CPU, its cores and vector extensions
    tensorflow_default: str | None = None   # TensorFlow's own default oneDNN setting here
    recheck: int = RECHECK

    def rows(self) -> dict:
        out = {}
        for run in self.runs:
            out.update(run.rows)
        return out

    @property
    def status(self) -> str:
        """As a sweep's: finding (some run found one), ok (something was checked and nothing
        found), refused or skipped (nothing was checked in any run: a GPU run not run, say)."""
        from .report import SweepReport
        statuses = {SweepReport("", "", run.results).status for run in self.runs if not run.not_run}
        return next((s for s in ("finding", "ok", "refused") if s in statuses), "skipped")

    @property
    def exit_status(self) -> int:
        from .report import EXIT_STATUS
        return EXIT_STATUS[self.status]


def run_matrix(runs, size: str = "quick", ops=None, workers: int | None = None, scheduler=None, progress=None,
               command: str = "", recheck: int = RECHECK) -> Matrix:
    from ..backends.variants import parse_count
    from ..errors import SymconvError, shown
    from .cases import sweep_cases
    from .run import op_names, resolve_workers
    try:
        runs = list(runs)
    except TypeError:
        runs = None
    if not runs or not all(isinstance(run, MatrixRun) for run in runs):
        raise SymconvError(f"runs must be a list of MatrixRun (see matrix_runs()), got {shown(runs)}")
    sweep_cases(size, op_names(ops))   # bad sizes, ops and workers before the first run starts
    resolve_workers(workers)
    recheck = parse_count(recheck, "recheck")
    start = time.perf_counter()
    done = [run_one(run, size, ops, workers, scheduler, progress, recheck) for run in runs]
    tf_default = tensorflow_default() if any(r.run.backend in ("tf", "tf-xla", "keras") for r in done) else None
    return Matrix(size, done, datetime.date.today().isoformat(), versions(), time.perf_counter() - start, command,
                  cpu_card(), tf_default, recheck)


def refusal_key(message: str) -> str:
    return re.sub(r"\d+", "N", refusal_text(message))
