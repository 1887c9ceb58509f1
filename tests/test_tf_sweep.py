"""Real TensorFlow against the exact model: the op x padding x convention x layout sweep.

Every case runs through ``symconv.check`` in child processes (one per variant, shared by the
backends of that variant): tf eager (raw backprop ops and GradientTape), tf-xla and Keras,
oneDNN on and off, one intra-op thread and TensorFlow's default.  A result is one of:

* ok: every entry of y, dk and dx agrees exactly;
* unsupported: TensorFlow refused the case with its own exception (one raised by TensorFlow or
  Keras code, or of a TensorFlow exception class: its message is kept), which is its right;
  any other exception is a finding, so a bug in symconv's own adapter cannot pass as a refusal;
* a finding: TensorFlow returned something the model says is wrong (wrong pixels, wrong shape,
  garbage) or crashed.  Findings are listed in FINDINGS with the exact case.  A deterministic
  finding is a strict expected failure (the test fails the day TensorFlow fixes it, so the list
  stays true).  Uninitialised memory is not deterministic: there the test asserts exactly what
  can happen (garbage, zeros or an error in the affected quantity, every other quantity right),
  so that the suite's counts are the same on every run.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from symconv import ConvSpec, SymconvError
from symconv.spec import DATA_FORMATS, OPS

from .conftest import backend_missing, need_backend

PADDINGS = [("SAME", "tf"), ("SAME", "same_lower"), ("SAME", "legacy_eigen"), ("SAME", "torch"),
            ("VALID", "tf"), ("explicit", "tf")]


@dataclass(frozen=True)
class Shape:
    """One geometry per spatial axis, named for what it exercises."""

    name: str
    size: tuple
    kernel: tuple
    strides: tuple
    dilations: tuple
    pads: tuple   # used when the padding is explicit


SHAPES = [
    Shape("regular", (6, 5, 4), (3, 2, 2), (1, 2, 1), (1, 1, 1), ((1, 1), (0, 1), (1, 0))),
    Shape("kernel larger than input", (2, 3, 2), (3, 4, 3), (1, 1, 1), (1, 1, 1), ((1, 0), (0, 2), (1, 1))),
    Shape("stride larger than kernel", (7, 8, 5), (2, 1, 2), (3, 4, 3), (1, 1, 1), ((0, 2), (1, 1), (2, 0))),
    Shape("output size 1", (3, 4, 3), (3, 4, 3), (2, 3, 3), (1, 1, 1), ((0, 0), (0, 0), (0, 0))),
    Shape("dilation past the input", (4, 5, 3), (3, 2, 2), (1, 1, 1), (3, 5, 4), ((2, 2), (0, 3), (1, 1))),
    Shape("stride and dilation", (7, 6, 5), (2, 3, 2), (2, 2, 1), (2, 1, 2), ((1, 0), (2, 1), (0, 1))),
    Shape("negative pads", (7, 6, 5), (2, 3, 2), (1, 2, 1), (1, 1, 1), ((-1, 1), (1, -1), (-1, -1))),
]


def _spec(op, fmt, padding, convention, shape, case_number):
    nd, kind = OPS[op]
    batch = 1 + case_number % 2
    c_in = 1 + case_number % 3
    spatial = shape.size[:nd]
    ks = shape.kernel[:nd]
    strides, dilations = shape.strides[:nd], shape.dilations[:nd]
    pad = shape.pads[:nd] if padding == "explicit" else padding
    groups = 2 if kind == "conv" and case_number % 5 == 0 else 1
    if kind == "conv":
        c_in *= groups
        kernel = (*ks, c_in // groups, groups * (1 + case_number % 2))
    elif kind == "depthwise":
        kernel = (*ks, c_in, 1 + case_number % 2)
    else:
        kernel = (*ks, 1 + case_number % 2, c_in)
    shape_x = (batch, *spatial, c_in) if fmt.endswith("C") else (batch, c_in, *spatial)
    return ConvSpec(op, shape_x, kernel, strides, dilations, pad, convention, fmt, groups)


# The founding question's geometry: stride larger than the kernel with SAME, so that the
# padding total (out - 1) * s + k - in is negative and clamping it matters.
FOUNDING = Shape("founding geometry", (3, 5, 7), (1, 1, 2), (3, 3, 4), (1, 1, 1), ((0, 0), (0, 0), (0, 0)))


def sweep_cases():
    """(case id, spec): every op x layout x padding/convention, each with a geometry taken in
    turn from SHAPES (transposed ops skip geometries whose output size they cannot define),
    after every op x layout with SAME on the founding geometry and with VALID on an input
    smaller than the kernel (no output at all, except for transposed convolutions)."""
    cases = []
    for number, (op, fmt) in enumerate((op, fmt) for op in OPS for fmt in DATA_FORMATS[OPS[op].ndim]):
        cases.append((f"{op}-{fmt}-SAME-tf-founding_geometry", _spec(op, fmt, "SAME", "tf", FOUNDING, number)))
        name = "no_output" if OPS[op].kind != "transpose" else "input_smaller_than_kernel"
        cases.append((f"{op}-{fmt}-VALID-{name}", _spec(op, fmt, "VALID", "tf", SHAPES[1], number)))
    number = 0
    for op, (padding, convention) in itertools.product(OPS, PADDINGS):
        for fmt in DATA_FORMATS[OPS[op].ndim]:
            for attempt in range(len(SHAPES)):
                shape = SHAPES[(number + attempt) % len(SHAPES)]
                try:
                    spec = _spec(op, fmt, padding, convention, shape, number)
                except SymconvError:
                    continue
                label = padding if padding != "SAME" else f"SAME-{convention}"
                cases.append((f"{op}-{fmt}-{label}-{shape.name.replace(' ', '_')}", spec))
                break
            number += 1
    return cases


CASES = sweep_cases()


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

# Statuses a backend's exception can have (an exception from the code under test may be
# reported as "unsupported", one from symconv's own code as "error").
REFUSAL_STATUSES = ("error", "unsupported")
# Modules whose exceptions are TensorFlow's own: raised by their code or of their classes.
FRAMEWORK_MODULES = ("tensorflow.", "keras.", "tf_keras.", "tensorflow_core.")


def refused_by_framework(outcome) -> bool:
    """An error outcome that TensorFlow or Keras raised itself: its class comes from their
    modules, or it was raised in their code.  A ValueError from symconv's adapter is not."""
    where = (outcome.meta.get("error_class", ""), outcome.meta.get("raised_in", ""))
    return any(w.startswith(FRAMEWORK_MODULES) for w in where)


@dataclass
class SweepCase:
    report: object
    errors: dict  # (quantity, path) -> error outcomes of the backend calls behind the report


@pytest.fixture(scope="session")
def sweep(backend_worker):
    """run -> {case id: SweepCase}, computed once per run in the variant's worker process.  The
    runner is watched so that every error outcome (with where its exception came from) is kept."""
    from symconv.backends import open_runner
    from symconv import check
    done = {}

    def results(run):
        if run.name not in done:
            with open_runner(run.backend, variant=run.variant, grad_path=run.grad_path,
                             worker=backend_worker(run.variant)) as runner:
                done[run.name] = {case_id: _watched_check(check, runner, spec) for case_id, spec in run.cases()}
        return done[run.name]
    return results


def _watched_check(check, runner, spec) -> SweepCase:
    errors, run = {}, runner.run

    def watched(calls):
        outcomes = run(calls)
        for call, outcome in zip(calls, outcomes):
            if outcome.status in REFUSAL_STATUSES:
                path = runner.backend.describe(call.spec, call.quantity, call.path)
                errors.setdefault((call.quantity, path), []).append(outcome)
        return outcomes
    runner.run = watched
    try:
        return SweepCase(check(spec, runner=runner, max_mismatches=2), errors)
    finally:
        runner.run = run


def _load_failure(report):
    return next((r.message for r in report.results if r.status == "error" and "failed to load" in r.message), None)


def findings_of(case: SweepCase) -> list:
    """(result, text) where the backend computed something wrong, died, or failed with an
    exception that is not TensorFlow's own refusal."""
    out = []
    for r in case.report.results:
        if r.status in ("ok", "skipped"):
            continue
        outcomes = case.errors.get((r.quantity, r.path), [])
        if r.status in REFUSAL_STATUSES and outcomes and all(refused_by_framework(o) for o in outcomes):
            continue
        where = "; ".join(sorted({f"{o.meta.get('error_class')} raised in {o.meta.get('raised_in')}"
                                  for o in outcomes}))
        detail = r.mismatches[0].sentence() if r.mismatches else ""
        out.append((r, f"{r.quantity} via {r.path}: {r.status}: {r.message} {detail} {where}".strip()))
    return out


@pytest.mark.parametrize("run,case_id", PARAMS)
def test_tensorflow_agrees_with_the_model(run, case_id, request, sweep):
    need_backend(request.config, run.backend)
    case = sweep(run)[case_id]
    failure = _load_failure(case.report)
    if failure:
        backend_missing(request.config, run.backend, failure)
    findings = findings_of(case)
    known = FINDINGS.get((run.name, case_id))
    if known is not None and known.uninitialised is not None:
        # Uninitialised memory: garbage, zeros (by chance the right answer) or an error in that
        # quantity, with the right shape; every other quantity exactly right.
        others = [text for r, text in findings if r.quantity != known.uninitialised]
        assert not others, "\n".join(others)
        for r in case.report.results:
            if r.quantity == known.uninitialised:
                assert r.status in ("ok", "mismatch") + REFUSAL_STATUSES, r
                assert not r.message.startswith("wrong output shape"), r.message
        return
    assert not findings, "\n".join(text for _, text in findings)


def test_a_bug_in_the_adapter_is_not_a_refusal():
    from symconv.backends.base import Outcome
    try:
        raise ValueError("a bug in symconv")
    except ValueError as err:
        ours = Outcome.from_exception(err)
    assert ours.meta == {"error_class": "builtins.ValueError", "raised_in": __name__}
    assert not refused_by_framework(ours)
    assert refused_by_framework(Outcome("error", meta={"error_class": "builtins.ValueError",
                                                       "raised_in": "tensorflow.python.ops.nn_ops"}))


@pytest.mark.parametrize("run", RUNS, ids=[r.name for r in RUNS])
def test_each_run_verifies_and_names_every_refusal(run, request, sweep):
    need_backend(request.config, run.backend)
    reports = {case_id: case.report for case_id, case in sweep(run).items()}
    results = [r for report in reports.values() for r in report.results]
    if any(_load_failure(report) for report in reports.values()):
        backend_missing(request.config, run.backend, _load_failure(next(iter(reports.values()))))
    assert sum(r.status == "ok" for r in results) >= len(reports)  # most of the sweep really ran
    for r in results:
        assert r.status in ("ok", "mismatch", "skipped") + REFUSAL_STATUSES
        if r.status in REFUSAL_STATUSES:
            assert r.message.strip(), r  # TensorFlow's own words, never an empty refusal
        assert r.backend_calls <= 10 or r.status == "mismatch"  # verifying costs at most 10 calls
