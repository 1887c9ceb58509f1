"""symconv matrix: the rows (convention observed, agreement of y, dk and dx, verdicts), GPU runs
with a card or not run, the Markdown report, and the committed docs/conformance.md."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from symconv.backends import BACKENDS, Variant, register_backend
from symconv.backends.numpy_backend import NumpyBackend
from symconv.backends.variants import forget_options
from symconv.sweeps.matrix import (
    GPU_CARD_CODE,
    MatrixRun,
    conformance_rows,
    default_runs,
    infer_findings,
    matrix_runs,
    row_cells,
    row_line,
    rows_of,
    run_one,
)
from symconv.sweeps.matrix_report import REPRODUCERS, markdown
from symconv.sweeps.run import Target, run_cases

from ..paths import DOCS, IMPLS, ROOT

CONFORMANCE = DOCS / "conformance.md"


def _cases(op, fmt, paddings):
    from symconv.sweeps.cases import sweep_cases
    return [c for c in sweep_cases("quick", ops=[op]) if c.spec.data_format == fmt and c.padding_label in paddings]


def _rows(impl, cases):
    target = Target(impl=str(IMPLS / impl))
    with target.open_runner() as runner:
        results = run_cases(runner, cases, target, shrink_findings=False)
        inferred = infer_findings(runner, results)
    return rows_of(MatrixRun("mine", "numpy", Variant()), results, inferred)


def test_a_cell_names_the_convention_each_quantity_was_seen_to_use():
    cases = _cases("conv2d", "NHWC", ("SAME-tf", "VALID"))
    row = _rows("founding_bug.py", cases)[("mine", "cpu", "conv2d")]
    # The founding bug: the forward resolves SAME with Eigen's rule, the gradients with TensorFlow's.
    same = row["SAME-tf"]
    assert same == "y: legacy_eigen (3), tf (2); dk: tf; dx: tf; y/dk/dx differ in 3 cases; 2 ok, 3 findings"
    assert row["VALID"] == "nothing read; -; 1 ok, 1 refused"   # no output; naive.py refuses groups
    assert row["explicit"] == "" and row["SAME-torch"] == ""


def test_a_correct_implementation_reads_what_was_asked_everywhere():
    cases = _cases("conv2d", "NHWC", ("SAME-same_lower", "SAME-legacy_eigen", "explicit"))
    row = _rows("../../examples/good_numpy.py", cases)[("mine", "cpu", "conv2d")]
    assert row["SAME-same_lower"] == "same_lower; y=dk=dx; 1 ok"
    assert row["SAME-legacy_eigen"] == "legacy_eigen; y=dk=dx; 1 ok"
    assert row["explicit"] == "as given; y=dk=dx; 3 ok"


def test_rows_read_back_from_markdown_with_pipes_in_cells():
    key = ("tf-onednn-off", "cpu", "conv3d")
    cells = {"SAME-tf": "legacy_eigen | tf", "VALID": "as given; y=dk=dx; 4 ok"}
    text = "## Conventions observed\n\n| run | device | op |\n" + row_line(key, cells) + "\n\n## Next\n| a | b |\n"
    assert conformance_rows(text) == {key: row_cells(key, cells)}


class GpuNumpy(NumpyBackend):
    """The loop reference, declared as a backend with a device (a stand-in for a GPU build)."""

    name = "numpy-gpu"
    has_variant = True


@pytest.fixture
def numpy_gpu(monkeypatch):
    register_backend("numpy-gpu", "tests.sweeps.test_matrix:GpuNumpy")
    try:
        yield monkeypatch
    finally:
        del BACKENDS["numpy-gpu"]
        forget_options()


def test_a_gpu_run_reports_the_card_or_says_not_run(numpy_gpu):
    run = MatrixRun("numpy-gpu", "numpy-gpu", Variant("gpu"))
    numpy_gpu.setitem(GPU_CARD_CODE, "numpy-gpu", "print('Fake Card 9000')")
    done = run_one(run, ops=["conv1d"], progress=False)
    assert done.card == "Fake Card 9000" and not done.not_run
    assert set(done.rows) == {("numpy-gpu", "gpu", "conv1d")}
    assert done.rows[("numpy-gpu", "gpu", "conv1d")]["SAME-tf"] == "tf; y=dk=dx; 7 ok"
    numpy_gpu.setitem(GPU_CARD_CODE, "numpy-gpu", "print('')")
    absent = run_one(run, ops=["conv1d"], progress=False)
    assert absent.not_run == "no GPU on this machine" and not absent.results
    assert list(absent.rows.values())[0]["SAME-tf"] == "not run: no GPU on this machine"


def test_the_matrix_runs_every_installed_backend_with_its_gpu_runs():
    names = [run.name for run in matrix_runs()]
    for backend, runs in default_runs().items():
        if backend in [r.backend for r in matrix_runs()]:
            assert [r.name for r in runs] == [n for n in names if n in {r.name for r in runs}]
    assert {r.device for r in default_runs()["torch"]} == {"cpu", "gpu"}
    assert {r.device for r in default_runs()["jax"]} == {"cpu", "gpu"}
    from symconv import SymconvError
    with pytest.raises(SymconvError, match=r"backends must be among .*got \['caffe'\]"):
        matrix_runs("caffe")


def test_the_command_writes_the_report(tmp_path):
    out = tmp_path / "conformance.md"
    done = subprocess.run([sys.executable, "-m", "symconv", "matrix", "--backends", "numpy", "--ops", "conv1d",
                           "-o", str(out)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert text.startswith("# Conformance matrix") and "numpy 2." in text and "## Failure modes" in text
    assert conformance_rows(text) == {("numpy", "cpu", "conv1d"): [
        "numpy", "cpu", "conv1d", "tf; y=dk=dx; 7 ok", "same_lower; y=dk=dx; 4 ok", "legacy_eigen; y=dk=dx; 2 ok",
        "torch; y=dk=dx; 2 ok", "as given; y=dk=dx; 4 ok", "as given; y=dk=dx; 4 ok"]}
    assert "None: every run agrees with the model wherever it computes." in text


def test_the_report_lists_each_disagreement_with_its_command():
    cases = _cases("conv2d", "NHWC", ("SAME-tf",))
    from symconv.sweeps.matrix import Matrix, RunResult
    target = Target(impl=str(IMPLS / "founding_bug.py"))
    with target.open_runner() as runner:
        results = run_cases(runner, cases, target)
    run = MatrixRun("mine", "numpy", Variant())
    text = markdown(Matrix("quick", [RunResult(run, "a CPU", results)], "2000-01-01", {"numpy": "2"}))
    assert "### 1. numpy conv2d forward (SAME-tf): diagnosis: SAME resolved by legacy_eigen" in text
    assert "symconv check conv2d --input 1x" in text and "--impl " in text
    assert "confirmed by symconv.reference" in text


# ---- the committed report -------------------------------------------------------------------------

def test_the_committed_report_has_every_run_and_op_and_gpu_rows():
    text = CONFORMANCE.read_text()
    rows = conformance_rows(text)
    cpu_runs = [r.name for runs in default_runs().values() for r in runs if r.device == "cpu"]
    from symconv.model.spec import OPS
    assert {(run, op) for run in cpu_runs for op in OPS} <= {(run, op) for run, _, op in rows}
    gpu = [cells for (run, device, op), cells in rows.items() if device == "gpu"]
    assert gpu and all(cells[3].startswith("not run") or cells[3] for cells in gpu)
    assert "Versions: python" in text and "tensorflow-cpu 2.21.0" in text and "onnxruntime 1.32.0" in text


def test_every_disagreement_in_the_report_has_a_reproducer_that_exists():
    text = CONFORMANCE.read_text()
    assert "standalone reproducer: none yet" not in text
    linked = set(re.findall(r"\]\((reproducers/[\w.]+\.py)\)", text))
    assert linked and all((DOCS / path).is_file() for path in linked)
    assert all((ROOT / r.path).is_file() for r in REPRODUCERS)


# ---- the machine, what a framework says where it runs, and findings checked again ----------------

AMD_AVX2 = ("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B12\n"
            "flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 bmi2 sha_ni\n")


def test_the_machine_names_the_cpu_and_its_vector_extensions():
    from symconv.sweeps.matrix import cpu_card, cpu_extensions
    assert cpu_extensions(AMD_AVX2) == ["sse4_2", "avx", "avx2", "fma"]
    assert cpu_extensions("flags : avx2 avx512f avx512_vnni amx_tile\n") == ["avx2", "avx512f", "avx512_vnni",
                                                                           "amx_tile"]
    assert cpu_extensions("") == []
    assert re.fullmatch(r".+, \d+ cores \((.+|extensions unknown)\)", cpu_card())


class FactsNumpy(NumpyBackend):
    """The loop reference, saying what it learned where it loaded (a child process: the
    caller's copy adopts it)."""

    name = "facts-numpy"
    where = "not loaded"

    def load(self):
        self.where = "child" if os.getpid() != int(os.environ["SYMCONV_TEST_PARENT"]) else "here"

    def manifest(self):
        return {"where": self.where}

    def adopt(self, manifest):
        self.where = manifest["where"]

    def facts(self):
        return {"oneDNN": "off", "pid": self.where}


class FlakyNumpy(NumpyBackend):
    """The loop reference with a forward one too high in every other process it loads in (the
    first, the third, ...), counted in the file named by SYMCONV_TEST_FLAKY."""

    name = "flaky-numpy"
    wrong = False

    def load(self):
        marker = Path(os.environ["SYMCONV_TEST_FLAKY"])
        loads = len(marker.read_text().splitlines()) if marker.exists() else 0
        with marker.open("a") as out:
            out.write("loaded\n")
        self.wrong = loads % 2 == 0

    def run(self, spec, quantity, path, tensors):
        out = super().run(spec, quantity, path, tensors)
        return out + 1 if self.wrong and quantity == "forward" else out


@pytest.fixture
def registered():
    added = []

    def register(name, target):
        register_backend(name, target)
        added.append(name)
    yield register
    for name in added:
        del BACKENDS[name]
    forget_options()


def test_a_run_records_what_its_framework_said_where_it_ran(registered, monkeypatch):
    registered("facts-numpy", "tests.sweeps.test_matrix:FactsNumpy")
    monkeypatch.setenv("SYMCONV_TEST_PARENT", str(os.getpid()))
    done = run_one(MatrixRun("facts", "facts-numpy", Variant()), ops=["conv1d"], progress=False)
    assert done.facts == {"oneDNN": "off", "pid": "child"}
    from symconv.sweeps.matrix import Matrix
    text = markdown(Matrix("quick", [done], "2000-01-01", {"numpy": "2"}, machine="a CPU, 2 cores (avx2)"))
    assert "Machine: a CPU, 2 cores (avx2)." in text
    assert re.search(r"^\| facts \| facts-numpy \| facts-numpy \| eager op \| cpu \| oneDNN off, pid child \| raw \| "
                     r"cpu \| .+ cores \(", text,
                     re.M), text


def test_each_finding_is_checked_again_in_fresh_processes_and_the_report_says_how_often(registered, monkeypatch,
                                                                                        tmp_path):
    registered("flaky-numpy", "tests.sweeps.test_matrix:FlakyNumpy")
    monkeypatch.setenv("SYMCONV_TEST_FLAKY", str(tmp_path / "loads"))
    from symconv.sweeps.matrix import Matrix, RunResult, recheck_findings
    run = MatrixRun("flaky", "flaky-numpy", Variant())
    cases = _cases("conv2d", "NHWC", ("SAME-tf",))[:1]
    with run.target.open_runner() as runner:          # the first process: wrong
        results = run_cases(runner, cases, run.target)
    assert [f.verdict.quantity for r in results for f in r.findings] == ["forward"]
    rechecks = recheck_findings(run, results, 3)        # three more: right, wrong, right
    assert [(r.reproduced, r.runs) for r in rechecks.values()] == [(1, 3)]
    assert len((tmp_path / "loads").read_text().splitlines()) == 4
    done = RunResult(run, "a CPU, 2 cores (avx2)", results, rechecks=rechecks)
    text = markdown(Matrix("quick", [done], "2000-01-01", {"numpy": "2"}, recheck=3))
    assert "- failed again in fresh runs of its smallest case (each a new process): flaky 1 of 3 runs\n" in text
    assert "- reproduced on: a CPU, 2 cores (avx2)\n" in text
    assert "checked 3 times more, each time in a fresh process" in text


def test_repeat_must_be_a_positive_count():
    done = subprocess.run([sys.executable, "-m", "symconv", "matrix", "--backends", "numpy", "--recheck", "0"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2 and "recheck must be a positive integer, got 0" in done.stderr
