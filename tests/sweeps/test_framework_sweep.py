"""PyTorch, JAX and ONNX Runtime against the exact model: symconv's quick sweep (the cases of
test_tf_sweep, degenerate shapes included, plus cases aimed at each framework's own padding
modes), and the committed conformance report's rows for a slice of it.

Every case runs through symconv's sweep (``symconv.sweeps.run.run_cases``) in child processes
shared per variant.  A result is one of:

* ok: every entry of y, dk and dx agrees exactly (ONNX Runtime: y; it has no gradients);
* unsupported: the framework raised (its message is kept), which is its right; each refusal
  seen is listed in REFUSALS by its message, so that no other exception passes as one;
* a finding: the framework returned something the model says is wrong (wrong pixels, wrong
  shape, garbage) or crashed.  Findings are listed in FINDINGS with the exact case and are
  strict expected failures (the test fails the day the framework changes, so the list stays
  true); each is also confirmed against symconv's loop reference, independently of the model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest

from symconv.backends import Variant
from symconv.backends.base import Call
from symconv.model import reference
from symconv.model.indexmap import maps_for
from symconv.sweeps.cases import sweep_cases

from ..conftest import backend_missing, need_backend
from ..paths import DOCS

QUICK = sweep_cases("quick")
SWEEP_CASES = [(case.case_id, case.spec) for case in QUICK if case.group != "aimed"]
# Aimed at padding modes: SAME whose total (out-1)*s + k - in is negative, torch's
# padding='same' on an even dilated kernel, output_padding at or above the stride, transposed
# convolutions with groups, negative pads on a transposed 3-D convolution (symconv.sweep_cases.AIMED).
AIMED_CASES = [(case.case_id, case.spec) for case in QUICK if case.group == "aimed"]
CASES = dict(SWEEP_CASES + AIMED_CASES)


@dataclass(frozen=True)
class Run:
    name: str
    backend: str
    variant: Variant
    grad_path: str
    every: int   # every n-th sweep case (the aimed cases always run)

    def cases(self):
        return SWEEP_CASES[::self.every] + AIMED_CASES


# One intra-op thread for most PyTorch and ONNX Runtime runs: their thread pools spin while
# waiting, which on 2 busy cores costs ten times the work; the default pools still run a slice.
# torch-1-thread and onnxruntime-1-thread run the whole quick sweep, as `symconv matrix` does:
# their rows of docs/conformance.md are compared with what they find.
RUNS = [Run("torch-1-thread", "torch", Variant(threads=1), "both", 1),
        Run("torch-mkldnn-off-1-thread", "torch", Variant(mkldnn=False, threads=1), "both", 5),
        Run("torch", "torch", Variant(), "raw", 7),
        Run("torch-deterministic", "torch", Variant(deterministic=True), "tape", 9),
        Run("jax", "jax", Variant(), "raw", 8),
        Run("onnxruntime-1-thread", "onnxruntime", Variant(threads=1), "raw", 1),
        Run("onnxruntime-no-graph-optimization", "onnxruntime", Variant(graph_optimization=False), "raw", 4)]
SLICE = ("torch-1-thread", "onnxruntime-1-thread")

# ---- what the frameworks do that the model says is wrong ------------------------------------
# (run, case) -> reason.  ONNX Runtime 1.32 (CPU) resolves auto_pad SAME_UPPER/SAME_LOWER
# without clamping a negative padding total: the window starts inside the input.
_ORT_SAME_UPPER = ("ONNX Runtime Conv auto_pad=SAME_UPPER with a padding total (out-1)*s + k - in of -3 or less "
                   "(stride larger than the kernel) starts the window inside the input (pads before "
                   "trunc((total+1)/2): -1 for totals -3 and -4), where TensorFlow, JAX and the ONNX convention of "
                   "padding up to ceil(in/s) outputs start at pixel 0")
_ORT_SAME_LOWER = ("ONNX Runtime Conv auto_pad=SAME_LOWER with a padding total of -4 or less starts the window "
                   "inside the input (pads before trunc((total+2)/2)), where JAX's SAME_LOWER starts at pixel 0")
# case -> (quantity, the padding the framework was seen to use, reason)
OBSERVED = {
    "depthwise_conv2d-NCHW-SAME-tf-stride_larger_than_kernel": ("forward", ((0, 1), (-1, -2)), _ORT_SAME_UPPER),
    "conv1d-NWC-SAME-tf-padding_total_-3": ("forward", ((-1, -2),), _ORT_SAME_UPPER),
    "conv2d-NHWC-SAME-tf-padding_total_-4": ("forward", ((-1, -3), (0, 1)), _ORT_SAME_UPPER),
    "conv1d-NCW-SAME-same_lower-padding_total_-4": ("forward", ((-1, -3),), _ORT_SAME_LOWER),
}
_ORT_RUNS = [run for run in RUNS if run.backend == "onnxruntime"]
FINDINGS = {(run.name, case): f"{case}: {reason}" for run in _ORT_RUNS for case, (_, _, reason) in OBSERVED.items()
            if case in dict(run.cases())}

# The framework's refusals seen in the sweep, by their own words: refusing is its right, but a
# refusal not listed here (say, an exception from symconv's own adapter) fails the test.
REFUSALS = {"torch": ("RuntimeError: slow_conv2d: grad_weight must be contiguous",
                      "RuntimeError: grad_weight needs to be contiguous"),
            "jax": (),
            "onnxruntime": ("InvalidArgument: [ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Non-zero status code "
                            "returned while running Conv node. Name:'' Status Message: Dilation not supported for "
                            "AutoPadType::SAME_UPPER or AutoPadType::SAME_LOWER.",)}


def _param(run, case_id):
    known = FINDINGS.get((run.name, case_id))
    marks = [pytest.mark.xfail(strict=True, reason=known, raises=AssertionError)] if known else []
    return pytest.param(run, case_id, marks=marks, id=f"{run.name}:{case_id}")


PARAMS = [_param(run, case_id) for run in RUNS for case_id, _ in run.cases()]


@pytest.fixture(scope="session")
def framework_sweep(run_sweep):
    """run -> {case id: CaseResult}: the shared sweep of tests/conftest.py."""
    return run_sweep


def _load_failure(result):
    return next((v.message for v in result.verdicts if v.status == "error" and "failed to load" in v.message), None)


def refused(backend, verdict) -> bool:
    return verdict.status in ("error", "unsupported") and any(
        verdict.message.strip().endswith(text) for text in REFUSALS[backend])


def findings_of(backend, result) -> list:
    """Verdicts where the framework computed something wrong, or died (a refusal not listed in
    REFUSALS counts too)."""
    return [v.text() for v in result.verdicts if v.status not in ("ok", "skipped") and not refused(backend, v)]


def _reports(run, request, framework_sweep):
    need_backend(request.config, run.backend)
    results = framework_sweep(run)
    failure = next(filter(None, map(_load_failure, results.values())), None)
    if failure:
        backend_missing(request.config, run.backend, failure)
    return results


@pytest.mark.parametrize("run,case_id", PARAMS)
def test_framework_agrees_with_the_model(run, case_id, request, framework_sweep):
    result = _reports(run, request, framework_sweep)[case_id]
    findings = findings_of(run.backend, result)
    assert not findings, "\n".join(findings)


@pytest.mark.parametrize("run", RUNS, ids=[r.name for r in RUNS])
def test_each_run_verifies_and_names_every_refusal(run, request, framework_sweep):
    reports = {case_id: result.report for case_id, result in _reports(run, request, framework_sweep).items()}
    results = [r for report in reports.values() for r in report.results]
    checked = sum(any(r.status == "ok" for r in report.results) for report in reports.values())
    assert checked >= 0.8 * len(reports)  # most of the sweep really ran
    for r in results:
        assert r.status in ("ok", "mismatch", "error", "skipped", "unsupported")
        if r.status == "error":
            assert r.message.strip(), r  # the framework's own words, never an empty refusal
        assert r.backend_calls <= 10 or r.status == "mismatch"
    if run.backend == "onnxruntime":
        gradients = [r for r in results if r.quantity != "forward"]
        assert gradients and all(r.status == "skipped" and "inference only" in r.message for r in gradients)


# Each padding mode a framework has is exercised by the sweep (the path names what ran).
NATIVE_MODES = {
    "torch": ["padding='same'", "padding='valid'", "F.pad(", "output_padding=", "groups=",
              "torch.ops.aten.convolution_backward", "torch.autograd.grad", "zero-padded (negative: cropped)"],
    "jax": ["padding='SAME'", "padding='SAME_LOWER'", "padding='VALID'", "conv_general_dilated(padding=((-1",
            "conv_transpose(padding='SAME'", "conv_transpose(padding=((", "feature_group_count=", "jax.vjp of"],
    "onnxruntime": ["auto_pad='SAME_UPPER'", "auto_pad='SAME_LOWER'", "auto_pad='VALID'", "Conv(pads=[",
                    "ConvTranspose(auto_pad='SAME_UPPER', output_shape=", "output_padding=[", "group=",
                    "zero-padded (negative: cropped)"],
}


@pytest.mark.parametrize("run", [r for r in RUNS if r.name in ("torch-1-thread", "jax", "onnxruntime-1-thread")],
                         ids=lambda r: r.name)
def test_the_sweep_exercises_every_padding_mode_of_the_framework(run, request, framework_sweep):
    paths = {v.path for result in _reports(run, request, framework_sweep).values() for v in result.verdicts}
    missing = [mode for mode in NATIVE_MODES[run.backend] if not any(mode in path for path in paths)]
    assert not missing, f"no case ran {missing}"


# ---- each finding, confirmed without the model ------------------------------------------------

@pytest.mark.parametrize("case_id", sorted(OBSERVED))
def test_each_finding_is_confirmed_by_the_loop_reference(case_id, request, backend_worker):
    """The framework's output differs from symconv.reference (plain loops, written without the
    index maps) on the spec, and equals it exactly on the padding the framework was seen to use."""
    from symconv.backends import open_runner
    need_backend(request.config, "onnxruntime")
    quantity, seen_pads, _ = OBSERVED[case_id]
    spec = CASES[case_id]
    rng = np.random.default_rng(7)
    tensors = {name: rng.integers(1, 10, spec.shape_of(name)).astype(np.float32) for name in ("x", "k")}
    with open_runner("onnxruntime", worker=backend_worker(Variant())) as runner:
        (outcome,) = runner.run([Call(spec, quantity, "inference", tensors)])
    assert outcome.status == "ok", outcome
    exact = {name: array.astype(np.int64) for name, array in tensors.items()}
    expected = reference.evaluate(spec, quantity, **exact)
    assert np.array_equal(maps_for(spec).evaluate(quantity, **exact), expected)  # the model is the reference's
    assert not np.array_equal(outcome.value, expected)                            # the framework is not
    seen = replace(spec, padding=seen_pads)
    assert seen.y_shape == spec.y_shape
    assert np.array_equal(outcome.value, reference.evaluate(seen, quantity, **exact))


RECORDED = sorted(FINDINGS)


@pytest.mark.parametrize("run_name,case_id", RECORDED, ids=[f"{r}:{c}" for r, c in RECORDED])
def test_each_recorded_finding_is_confirmed_by_the_sweep(run_name, case_id, request, framework_sweep):
    """The sweep itself confirms each finding against the loop reference (no false alarm)."""
    run = next(r for r in RUNS if r.name == run_name)
    result = _reports(run, request, framework_sweep)[case_id]
    assert result.findings and all(f.confirmed for f in result.findings), \
        [(f.verdict.text(), f.confirmation) for f in result.findings]


# ---- the committed conformance report, for the runs this file sweeps in full ----------------

def test_the_slice_runs_are_the_matrix_runs():
    from symconv.sweeps.matrix import default_runs
    matrix = {run.name: run for runs in default_runs().values() for run in runs}
    for run in RUNS:
        if run.name in SLICE:
            assert run.every == 1
            mine = matrix[run.name]
            assert (mine.backend, mine.variant, mine.grad_path) == (run.backend, run.variant, run.grad_path)


@pytest.mark.parametrize("run_name", SLICE)
def test_the_committed_conformance_report_still_holds(run_name, request, framework_sweep, backend_worker):
    """docs/conformance.md's rows for this run (every op x padding mode: the convention observed,
    whether y, dk and dx agree, the verdicts) are what the sweep finds today."""
    from symconv.backends import open_runner
    from symconv.sweeps.matrix import conformance_rows, default_runs, infer_findings, row_cells, rows_of
    matrix_run = next(r for runs in default_runs().values() for r in runs if r.name == run_name)
    run = next(r for r in RUNS if r.name == run_name)
    results = list(_reports(run, request, framework_sweep).values())
    path = "raw" if run.grad_path == "both" else run.grad_path
    with open_runner(run.backend, variant=run.variant, grad_path=path, worker=backend_worker(run.variant)) as runner:
        inferred = infer_findings(runner, results)
    fresh = {key: row_cells(key, cells) for key, cells in rows_of(matrix_run, results, inferred).items()}
    committed = {key: cells for key, cells in conformance_rows((DOCS / "conformance.md").read_text()).items()
                 if key[0] == run_name}
    assert sorted(committed) == sorted(fresh), "regenerate docs/conformance.md with symconv matrix"
    for key, cells in fresh.items():
        assert committed[key] == cells, f"{key}: regenerate docs/conformance.md with symconv matrix"
