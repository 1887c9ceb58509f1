"""Real TensorFlow against the exact model: the op x padding x convention x layout sweep.

The cases are symconv's quick sweep (``symconv.sweep_cases``); every case runs through
symconv's sweep (``symconv.sweep_run.run_cases``: ``check`` and the verdicts) in child processes
(one per variant, shared by the backends of that variant): tf eager (raw backprop ops and
GradientTape), tf-xla and Keras, oneDNN on and off, one intra-op thread and TensorFlow's
default.  A result is one of:

* ok: every entry of y, dk and dx agrees exactly;
* refused: TensorFlow refused the case with its own exception (one raised by TensorFlow or
  Keras code, or of a TensorFlow exception class: its message is kept), which is its right;
  any other exception is a finding, so a bug in symconv's own adapter cannot pass as a refusal;
* a finding: TensorFlow returned something the model says is wrong (wrong pixels, wrong shape,
  garbage) or crashed.  Findings are listed in FINDINGS with the exact case, and each is
  confirmed by the loop reference (``symconv.reference``).  A deterministic finding is a strict
  expected failure (the test fails the day TensorFlow fixes it, so the list
  stays true).  Uninitialised memory is not deterministic: there the test asserts exactly what
  can happen (garbage, zeros or an error in the affected quantity, every other quantity right),
  so that the suite's counts are the same on every run.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from symconv.sweep_cases import sweep_cases

from .conftest import backend_missing, need_backend

# symconv's quick sweep (symconv.sweep_cases), without the cases aimed at other frameworks'
# padding modes: every op x layout x padding/convention with a degenerate geometry in turn, SAME
# on the founding geometry and VALID on an input smaller than the kernel.
CASES = [(case.case_id, case.spec) for case in sweep_cases("quick") if case.group != "aimed"]


# ---- runs: backend x variant, each over the cases (or every n-th of them) -------------------

@dataclass(frozen=True)
class Run:
    name: str
    backend: str
    variant: object
    grad_path: str
    every: int

    def cases(self):
        return CASES[::self.every]


def _runs():
    from symconv.backends import Variant
    on, off = Variant(onednn=True), Variant(onednn=False)
    return [Run("tf-onednn-on", "tf", on, "both", 1),
            Run("tf-onednn-off", "tf", off, "both", 1),
            Run("tf-onednn-on-1-thread", "tf", Variant(onednn=True, threads=1), "raw", 3),
            Run("tf-onednn-off-1-thread", "tf", Variant(onednn=False, threads=1), "raw", 3),
            Run("tf-xla", "tf-xla", on, "both", 4),
            Run("keras", "keras", on, "raw", 2)]


RUNS = _runs()

# TensorFlow 2.21 (CPU) disagreeing with the model: (run, case) -> Finding.
_EMPTY_GARBAGE = ("returns an uninitialised tensor instead of zeros for the filter gradient when the "
                  "convolution has no output (kernel larger than the input, VALID)")
_DEPTHWISE_DILATION = ("depthwise_conv2d with strides 2 and dilations (2, 1): tf.nn.depthwise_conv2d returns the "
                       "wrong output shape, and DepthwiseConv2dNativeBackpropFilter/Input ignore the dilations "
                       "(they read as if dilation were 1)")
_CONV3D_LEGACY = ("oneDNN off: tf.nn.conv3d resolves SAME with Eigen's unclamped padding (before = -1 when the "
                  "total (out-1)*s + k - in is negative), while Conv3DBackpropFilterV2/InputV2 clamp it: the "
                  "2017 founding bug, in 3-D")
FINDINGS = {}


@dataclass(frozen=True)
class Finding:
    """What TensorFlow does wrong on one case.  ``uninitialised`` names the quantity whose
    result is uninitialised memory (its values vary from run to run); None: deterministic."""

    reason: str
    uninitialised: str | None = None


def _finding(runs, case, reason, uninitialised=None):
    for run in runs:
        FINDINGS[(run, case)] = Finding(f"{case}: {reason}", uninitialised)


_ON = ("tf-onednn-on", "tf-onednn-on-1-thread")
_OFF = ("tf-onednn-off", "tf-onednn-off-1-thread")
_NO_OUTPUT = ["conv1d-NWC-VALID-no_output", "conv1d-NCW-VALID-no_output", "conv1d-NWC-VALID-kernel_larger_than_input",
              "conv2d-NHWC-VALID-no_output", "conv2d-NCHW-VALID-no_output", "conv3d-NDHWC-VALID-no_output",
              "depthwise_conv2d-NHWC-VALID-no_output", "depthwise_conv2d-NCHW-VALID-no_output"]
for _case in _NO_OUTPUT:
    _finding(_ON, _case, "oneDNN on: the forward returns a tensor shaped like the input (uninitialised) where "
                         "the convolution has no output (VALID, kernel larger than the input)")
for _case in [c for c in _NO_OUTPUT if "NCHW" not in c and "NCW" not in c] + \
        ["depthwise_conv2d-NCHW-VALID-no_output"]:
    _finding(_OFF, _case, f"oneDNN off: {_EMPTY_GARBAGE}", uninitialised="filter_grad")
_finding(_ON + _OFF + ("tf-xla",), "depthwise_conv2d-NHWC-SAME-legacy_eigen-stride_and_dilation", _DEPTHWISE_DILATION)
_finding(_ON + ("tf-xla",), "depthwise_conv2d-NCHW-explicit-stride_and_dilation",
         "tf.nn.depthwise_conv2d (NCHW, strides 2, dilations 2,1, explicit pads) returns the wrong output shape")
_finding(_OFF, "conv3d-NDHWC-SAME-tf-founding_geometry", _CONV3D_LEGACY)
for _case in ("conv3d_transpose-NDHWC-SAME-tf-founding_geometry", "conv3d_transpose-NDHWC-SAME-tf-stride_larger_than_kernel"):
    _finding(_OFF, _case, f"dx of conv3d_transpose is tf.nn.conv3d; {_CONV3D_LEGACY}")


def _param(run, case_id):
    known = FINDINGS.get((run.name, case_id))
    deterministic = known is not None and known.uninitialised is None
    marks = [pytest.mark.xfail(strict=True, reason=known.reason, raises=AssertionError)] if deterministic else []
    return pytest.param(run, case_id, marks=marks, id=f"{run.name}:{case_id}")


PARAMS = [_param(run, case_id) for run in RUNS for case_id, _ in run.cases()]

@pytest.fixture(scope="session")
def sweep(backend_worker):
    """run -> {case id: CaseResult}, computed once per run by symconv's sweep in the variant's
    worker process (findings confirmed by the loop reference, not shrunk)."""
    from symconv.backends import open_runner
    from symconv.sweep_cases import Case
    from symconv.sweep_run import run_cases
    done = {}

    def results(run):
        if run.name not in done:
            with open_runner(run.backend, variant=run.variant, grad_path=run.grad_path,
                             worker=backend_worker(run.variant)) as runner:
                cases = [Case(case_id, spec, "") for case_id, spec in run.cases()]
                done[run.name] = {r.case_id: r for r in run_cases(runner, cases, shrink_findings=False)}
        return done[run.name]
    return results


def _load_failure(result):
    return next((v.message for v in result.verdicts if v.status == "error" and "failed to load" in v.message), None)


def findings_of(result) -> list:
    """(verdict, text) where the backend computed something wrong, died, or failed with an
    exception that is not TensorFlow's own refusal (symconv.sweep_run.framework_refusal)."""
    return [(v, v.text()) for v in result.verdicts if v.verdict == "finding"]


@pytest.mark.parametrize("run,case_id", PARAMS)
def test_tensorflow_agrees_with_the_model(run, case_id, request, sweep):
    need_backend(request.config, run.backend)
    case = sweep(run)[case_id]
    failure = _load_failure(case)
    if failure:
        backend_missing(request.config, run.backend, failure)
    findings = findings_of(case)
    known = FINDINGS.get((run.name, case_id))
    if known is not None and known.uninitialised is not None:
        # Uninitialised memory: garbage, zeros (by chance the right answer) or an error in that
        # quantity, with the right shape; every other quantity exactly right.
        others = [text for v, text in findings if v.quantity != known.uninitialised]
        assert not others, "\n".join(others)
        for v in case.verdicts:
            if v.quantity == known.uninitialised:
                assert v.status in ("ok", "mismatch", "error", "unsupported"), v
                assert v.kind != "wrong output shape", v.text()
        return
    assert not findings, "\n".join(text for _, text in findings)


def test_a_bug_in_the_adapter_is_not_a_refusal():
    from symconv.backends import backend_class
    from symconv.backends.base import Outcome
    from symconv.sweep_run import framework_refusal
    tf = backend_class("tf")
    try:
        raise ValueError("a bug in symconv")
    except ValueError as err:
        ours = Outcome.from_exception(err)
    assert ours.meta == {"error_class": "builtins.ValueError", "raised_in": __name__, "owner": "unknown"}
    assert not framework_refusal(ours, tf)
    assert framework_refusal(Outcome("error", meta={"error_class": "builtins.ValueError",
                                                    "raised_in": "tensorflow.python.ops.nn_ops"}), tf)


@pytest.mark.parametrize("run", RUNS, ids=[r.name for r in RUNS])
def test_each_run_verifies_and_names_every_refusal(run, request, sweep):
    need_backend(request.config, run.backend)
    results = sweep(run)
    if any(_load_failure(r) for r in results.values()):
        backend_missing(request.config, run.backend, _load_failure(next(iter(results.values()))))
    verdicts = [v for r in results.values() for v in r.verdicts]
    assert sum(v.verdict == "ok" for v in verdicts) >= len(results)  # most of the sweep really ran
    for r in results.values():
        assert all(v.status in ("ok", "mismatch", "skipped", "error", "unsupported") for v in r.verdicts)
        for v in r.verdicts:
            if v.verdict == "refused":
                assert v.message.strip(), v  # TensorFlow's own words, never an empty refusal
        assert r.report is not None
        assert all(q.backend_calls <= 10 or q.status == "mismatch" for q in r.report.results)  # <= 10 to verify


RECORDED = sorted((run.name, case_id) for run in RUNS for case_id, _ in run.cases() if (run.name, case_id) in FINDINGS)


@pytest.mark.parametrize("run_name,case_id", RECORDED, ids=[f"{r}:{c}" for r, c in RECORDED])
def test_each_recorded_finding_is_confirmed_by_the_loop_reference(run_name, case_id, request, sweep):
    """No false alarm: where the sweep records a finding, TensorFlow's output on random integers
    differs from symconv.reference (plain loops, written without the index maps).  Uninitialised
    memory may hold zeros by chance: there the reference gives zeros (an empty sum), so any other
    value the sweep saw is wrong."""
    import numpy as np

    from symconv import reference
    from symconv.backends.base import INPUTS
    run = next(r for r in RUNS if r.name == run_name)
    need_backend(request.config, run.backend)
    result = sweep(run)[case_id]
    known = FINDINGS[(run_name, case_id)]
    if known.uninitialised is None:
        assert result.findings, f"{case_id}: no finding in {run_name}"
    for finding in result.findings:
        if known.uninitialised is not None and finding.verdict.quantity == known.uninitialised:
            spec = dict(CASES)[case_id]
            ones = {name: np.ones(spec.shape_of(name), dtype=np.int64) for name in INPUTS[known.uninitialised]}
            assert not reference.evaluate(spec, known.uninitialised, **ones).any()
            assert finding.verdict.kind in ("garbage", "values where the spec admits no output"), finding.verdict
            continue
        assert finding.confirmed, f"{finding.verdict.text()}: {finding.confirmation}"
