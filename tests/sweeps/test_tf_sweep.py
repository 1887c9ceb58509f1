"""Real TensorFlow against the exact model: the op x padding x convention x layout sweep.

The cases are symconv's quick sweep (``symconv.sweeps.cases``); every case runs through
symconv's sweep (``symconv.sweeps.run.run_cases``: ``check`` and the verdicts) in child processes
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
  so that the suite's counts are the same on every run, and a test of its own checks the
  quantity again (UNINITIALISED_CHECKS times in the run's worker, then as many in each of up to
  FRESH_PROCESSES new ones: what the memory holds depends on the process's history) and asserts
  that it showed at least once (the record goes the day the defect is gone for good).

Each run asks for its oneDNN setting explicitly (TensorFlow's own default depends on the CPU: on
only with AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX), and each recorded finding says which setting
it needs; a test skips, with the reason, where TensorFlow does not run with that setting here
(what TensorFlow said in the worker, not the flag).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from symconv.sweeps.cases import sweep_cases

from ..conftest import backend_missing, need_backend

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
    result is uninitialised memory (its values vary from run to run; ``seen`` says how often it
    showed when measured); None: deterministic.  ``onednn``: the oneDNN setting the defect
    needs (None: either)."""

    reason: str
    uninitialised: str | None = None
    onednn: bool | None = None
    seen: str = ""


def _finding(runs, case, reason, uninitialised=None, onednn=None, seen=""):
    for run in runs:
        FINDINGS[(run, case)] = Finding(f"{case}: {reason}", uninitialised, onednn, seen)


_ON = ("tf-onednn-on", "tf-onednn-on-1-thread")
_OFF = ("tf-onednn-off", "tf-onednn-off-1-thread")
_NO_OUTPUT = ["conv1d-NWC-VALID-no_output", "conv1d-NCW-VALID-no_output", "conv1d-NWC-VALID-kernel_larger_than_input",
              "conv2d-NHWC-VALID-no_output", "conv2d-NCHW-VALID-no_output", "conv3d-NDHWC-VALID-no_output",
              "depthwise_conv2d-NHWC-VALID-no_output", "depthwise_conv2d-NCHW-VALID-no_output"]
for _case in _NO_OUTPUT:
    _finding(_ON, _case, "oneDNN on: the forward returns a tensor shaped like the input (uninitialised) where "
                         "the convolution has no output (VALID, kernel larger than the input)", onednn=True)
# How often the filter gradient showed uninitialised memory with oneDNN off (TensorFlow 2.21 on an
# Intel Xeon with AVX-512; 5 fresh processes x 6 checks, a new seed each): raw ops, then the tape.
# conv1d-NWC-VALID-no_output is grouped: TensorFlow refuses grouped gradients on a CPU, no defect.
_SEEN = {"conv1d-NCW-VALID-no_output": (30, 26), "conv1d-NWC-VALID-kernel_larger_than_input": (30, 15),
         "conv2d-NHWC-VALID-no_output": (24, 30), "conv2d-NCHW-VALID-no_output": (30, 30),
         "conv3d-NDHWC-VALID-no_output": (30, 30), "depthwise_conv2d-NHWC-VALID-no_output": (20, 29),
         "depthwise_conv2d-NCHW-VALID-no_output": (29, 30)}
for _case, (_raw, _tape) in _SEEN.items():
    _finding(_OFF, _case, f"oneDNN off: {_EMPTY_GARBAGE}", uninitialised="filter_grad", onednn=False,
             seen=f"raw ops {_raw} of 30 checks, tape {_tape} of 30")
_finding(_ON + _OFF + ("tf-xla",), "depthwise_conv2d-NHWC-SAME-legacy_eigen-stride_and_dilation", _DEPTHWISE_DILATION)
_finding(_ON + _OFF + ("tf-xla",), "depthwise_conv2d-NCHW-explicit-stride_and_dilation",
         "tf.nn.depthwise_conv2d (strides 2, dilations 2,1, explicit pads) returns the wrong output shape (NCHW as "
         "given with oneDNN on and under XLA; moved to NHWC by symconv with oneDNN off)")
_finding(_OFF, "conv3d-NDHWC-SAME-tf-founding_geometry", _CONV3D_LEGACY, onednn=False)
for _case in ("conv3d_transpose-NDHWC-SAME-tf-founding_geometry", "conv3d_transpose-NDHWC-SAME-tf-stride_larger_than_kernel",
              "conv3d_transpose-NCDHW-SAME-tf-founding_geometry"):
    _finding(_OFF, _case, f"dx of conv3d_transpose is tf.nn.conv3d; {_CONV3D_LEGACY}", onednn=False)
# A process may hand back zeroed memory on every check (seen once in the worker the whole suite
# shares); new processes differ.
UNINITIALISED_CHECKS, FRESH_PROCESSES = 5, 3


def _param(run, case_id):
    known = FINDINGS.get((run.name, case_id))
    deterministic = known is not None and known.uninitialised is None
    marks = [pytest.mark.xfail(strict=True, reason=known.reason, raises=AssertionError)] if deterministic else []
    return pytest.param(run, case_id, marks=marks, id=f"{run.name}:{case_id}")


PARAMS = [_param(run, case_id) for run in RUNS for case_id, _ in run.cases()]

@pytest.fixture(scope="session")
def sweep(run_sweep):
    """run -> {case id: CaseResult} (and ``.facts``): the shared sweep of tests/conftest.py."""
    return run_sweep


def _on_off(value) -> str:
    return "on" if value else "off"


def skip_unless_in_effect(run, sweep, known=None) -> None:
    """Skip where TensorFlow here does not run with the oneDNN setting the run asks for, or that
    the recorded defect needs (TensorFlow's own answer in the worker)."""
    sweep(run)
    in_effect = sweep.facts[run.name].get("oneDNN")
    asked = run.variant.get("onednn")
    if asked is not None and in_effect != _on_off(asked):
        pytest.skip(f"{run.name} asks for oneDNN {_on_off(asked)}, but TensorFlow here runs with it {in_effect}")
    if known is not None and known.onednn is not None and in_effect != _on_off(known.onednn):
        pytest.skip(f"the recorded defect needs oneDNN {_on_off(known.onednn)}; TensorFlow here runs with it "
                    f"{in_effect}")


def _load_failure(result):
    return next((v.message for v in result.verdicts if v.status == "error" and "failed to load" in v.message), None)


def findings_of(result) -> list:
    """(verdict, text) where the backend computed something wrong, died, or failed with an
    exception that is not TensorFlow's own refusal (symconv.sweeps.run.framework_refusal)."""
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
    skip_unless_in_effect(run, sweep, known)
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
    from symconv.sweeps.run import framework_refusal
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
    skip_unless_in_effect(run, sweep)
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

    from symconv.backends.base import INPUTS
    from symconv.model import reference
    run = next(r for r in RUNS if r.name == run_name)
    need_backend(request.config, run.backend)
    result = sweep(run)[case_id]
    known = FINDINGS[(run_name, case_id)]
    skip_unless_in_effect(run, sweep, known)
    if known.uninitialised is None:
        assert result.findings, f"{case_id}: no finding in {run_name}"
    for finding in result.findings:
        if known.uninitialised is not None and finding.verdict.quantity == known.uninitialised:
            spec = dict(CASES)[case_id]
            ones = {name: np.ones(spec.shape_of(name), dtype=np.int64) for name in INPUTS[known.uninitialised]}
            assert not reference.evaluate(spec, known.uninitialised, **ones).any()
            # Garbage, wrong values, or values that change between two calls with the same inputs.
            assert finding.verdict.kind in ("garbage", "values where the spec admits no output", "nondeterministic"), \
                finding.verdict
            continue
        assert finding.confirmed, f"{finding.verdict.text()}: {finding.confirmation}"


UNINITIALISED = [key for key in RECORDED if FINDINGS[key].uninitialised is not None]


@pytest.mark.parametrize("run_name,case_id", UNINITIALISED, ids=[f"{r}:{c}" for r, c in UNINITIALISED])
def test_each_uninitialised_defect_shows_in_at_least_one_of_n_checks(run_name, case_id, request, sweep,
                                                                    backend_worker):
    """Uninitialised memory may hold zeros by chance on one check, even on every check in one
    process, but not everywhere: the quantity is checked again (a new seed each time, in the run's
    worker, then in fresh processes) until it shows garbage, wrong values or values that change;
    never showing means the record is wrong or the defect is gone."""
    from symconv.backends import open_runner
    from symconv.sweeps.run import checked
    run = next(r for r in RUNS if r.name == run_name)
    need_backend(request.config, run.backend)
    known = FINDINGS[(run_name, case_id)]
    skip_unless_in_effect(run, sweep, known)
    if any(f.verdict.quantity == known.uninitialised for f in sweep(run)[case_id].findings):
        return   # the sweep's own check showed it
    spec, seed = dict(CASES)[case_id], 0
    for worker in [backend_worker(run.variant)] + [None] * FRESH_PROCESSES:   # None: a fresh process
        with open_runner(run.backend, variant=run.variant, grad_path=run.grad_path, worker=worker,
                         isolate=True) as runner:
            for _ in range(UNINITIALISED_CHECKS):
                seed += 1
                _, verdicts = checked(runner, spec, [known.uninitialised], seed=seed)
                if any(v.verdict == "finding" for v in verdicts):
                    return
    pytest.fail(f"{case_id}: {known.uninitialised} agreed with the model on {seed + 1} checks in {run_name}, in "
                f"{FRESH_PROCESSES + 1} processes (measured before: {known.seen}); the recorded defect is gone here")
