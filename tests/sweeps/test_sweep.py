"""symconv sweep: the cases, the verdicts, shrinking, the engines (one worker, a local pool of
processes, Dask) and the command line.  Implementations here are NumPy (the reference and
planted bugs in tests/impls), so that every test runs without a framework."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import symconv
from symconv import ConvSpec, SymconvError
from symconv.model.spec import DATA_FORMATS, OPS
from symconv.sweeps.cases import PADDING_LABELS, SHAPES, Case, sweep_cases
from symconv.sweeps.run import Target, run_cases, sweep
from symconv.sweeps.shrink import command_line, neighbours, shrink

from ..paths import IMPLS, ROOT

LEGACY = str(IMPLS / "legacy_same.py")


# ---- the cases --------------------------------------------------------------------------------

def test_the_quick_sweep_meets_every_op_layout_padding_and_degenerate_shape():
    cases = sweep_cases("quick")
    assert len(cases) == 154 and len({c.case_id for c in cases}) == 154
    assert {(c.spec.op, c.spec.data_format, c.padding_label) for c in cases if c.group == "grid"} == \
        {(op, fmt, label) for op in OPS for fmt in DATA_FORMATS[OPS[op].ndim] for label in PADDING_LABELS}
    shapes = {c.case_id.split("-", 4)[-1] for c in cases if c.group == "grid"}
    assert {s.name.replace(" ", "_") for s in SHAPES} <= shapes
    assert any(c.spec.is_empty for c in cases)                                   # kernel larger than the input
    assert any(min(sum(p) for p in c.spec.pads) < 0 for c in cases)              # negative pads
    assert any(c.spec.groups > 1 for c in cases)
    assert [c.case_id for c in sweep_cases("quick")] == [c.case_id for c in cases]   # the same every run


def test_the_full_sweep_holds_the_quick_one_and_every_geometry_with_counts():
    full = sweep_cases("full", ops=["conv1d"])
    quick = sweep_cases("quick", ops=["conv1d"])
    assert len({c.case_id for c in full}) == len(full) > 10 * len(quick)
    assert {c.case_id for c in quick} <= {c.case_id for c in full}
    assert {c.spec.batch for c in full} == {1, 2, 3} and {c.spec.groups for c in full} >= {1, 2, 3}


def test_bad_sizes_and_ops_are_one_error():
    with pytest.raises(SymconvError, match=r"size must be quick or full, got 'huge'"):
        sweep_cases("huge")
    with pytest.raises(SymconvError, match=r"ops must be among conv1d, .*got \['conv4d'\]"):
        sweep_cases("quick", ops="conv4d")


# ---- shrinking ----------------------------------------------------------------------------------

def test_every_neighbour_is_valid_and_smaller_in_one_field():
    spec = ConvSpec("conv2d_transpose", "2x3x3x4", "2x3x2x4", strides=(2, 1), padding="1:0,0:1", groups=2,
                    data_format="NHWC", output_shape_request="2x6x4x4")
    found = [n for n in neighbours(spec) if n is not None]
    assert len(found) > 10
    for small in found:
        assert small.op == spec.op and small != spec
        assert small.batch <= spec.batch and sum(small.strides) <= sum(spec.strides)


def test_shrinking_keeps_the_failure_and_reaches_the_smallest_case():
    spec = ConvSpec("conv3d", "2x5x4x6x3", "3x2x2x3x4", strides=(1, 3, 1), padding="SAME", data_format="NDHWC")
    small, steps = shrink(spec, lambda s: s.strides[1] > 2 and s.kernel_shape[1] < s.input_shape[2])
    assert steps > 0
    assert small == ConvSpec("conv3d", "1x1x2x1x1", "1x1x1x1x1", strides=(1, 3, 1), padding="SAME")


def test_the_command_line_of_a_spec_builds_the_same_spec():
    from symconv.cli import build_parser, join_negative_values
    from symconv.commands.arguments import spec_from_args
    fields = dict(strides=(2, 1), dilations=(1, 2), padding="-1:0,1:2", data_format="NCHW", groups=3)
    default = ConvSpec("conv2d_transpose", "1x3x2x3", "2x2x1x3", **fields)
    spec = ConvSpec("conv2d_transpose", "1x3x2x3", "2x2x1x3", output_shape_request=default.y_shape, **fields)
    line = command_line(spec, ["--backend", "numpy"])
    parser = build_parser()
    args = parser.parse_args(join_negative_values(parser, line.split()[1:]))
    assert args.backend == "numpy" and spec_from_args(args) == spec


# ---- verdicts and findings ------------------------------------------------------------------------

def test_the_reference_passes_the_sweep_of_an_op():
    report = sweep("numpy", ops=["conv2d"], progress=False)
    assert report.status == "ok" and report.exit_status == 0 and not report.findings
    assert [op for op, _, _ in report.summary()] == ["conv2d"] * len(PADDING_LABELS)
    assert sum(c["ok"] for _, _, c in report.summary()) == len(report.results) == 25
    assert "conv2d  SAME-tf" in report.text() and "no findings" in report.text()


# Cases where Eigen's unclamped SAME (the planted bug) may differ from TensorFlow's.
LEGACY_CASES = [c for c in sweep_cases("quick", ops=["conv1d"]) if c.padding_label == "SAME-tf"]


@pytest.fixture(scope="module")
def legacy_report():
    return sweep(impl=LEGACY, cases=LEGACY_CASES, progress=False)


def test_a_planted_bug_is_found_confirmed_and_shrunk(legacy_report):
    report = legacy_report
    assert report.status == "finding" and report.exit_status == 1
    failing = {r.case_id for r, _ in report.findings}
    # Eigen's rule differs from TensorFlow's where the padding total is negative (or odd).
    assert {"conv1d-NWC-SAME-tf-founding_geometry", "conv1d-NWC-SAME-tf-padding_total_-3"} <= failing
    for result, finding in report.findings:
        assert finding.verdict.verdict == "finding" and finding.verdict.status == "mismatch"
        assert "convention" in finding.verdict.hypotheses, finding.verdict
        assert finding.confirmed, finding.confirmation
        assert "confirmed by symconv.reference" in finding.confirmation
        small = finding.smallest
        assert small.op == "conv1d" and small.padding == "SAME" and small.batch == 1
        assert sum(small.input_shape) <= sum(result.spec.input_shape)
        assert finding.command == command_line(small, ["--impl", LEGACY])
    assert "smallest: symconv check conv1d --input 1x" in report.text()


def test_the_smallest_command_shows_the_same_failure(legacy_report, capsys):
    from symconv.cli import main
    command = legacy_report.findings[0][1].command
    assert main(command.split()[1:]) == 1
    out = capsys.readouterr().out
    assert "DIFFERS from the model" in out and "legacy_eigen" in out


def test_the_json_report_carries_every_case_and_finding(legacy_report):
    data = json.loads(legacy_report.dumps())
    assert data["status"] == "finding" and len(data["cases"]) == len(legacy_report.results)
    found = [f for case in data["cases"] for f in case["findings"]]
    assert found and all(f["command"].startswith("symconv check conv1d") and f["confirmed"] for f in found)


def test_not_implemented_error_is_a_refusal_any_other_exception_of_user_code_a_finding(tmp_path):
    impl = tmp_path / "refuses.py"
    impl.write_text("def forward(x, k, spec):\n    raise NotImplementedError('this implementation takes no dilation')\n")
    case = Case("c", ConvSpec("conv1d", "1x4x1", "2x1x1"), "grid")
    target = Target(impl=str(impl))
    with target.open_runner() as runner:
        (result,) = run_cases(runner, [case], target)
    assert [v.verdict for v in result.verdicts] == ["refused", "skipped", "skipped"]
    assert "takes no dilation" in result.verdicts[0].message and result.verdict == "refused"
    impl.write_text("def forward(x, k, spec):\n    raise ValueError('this implementation takes no dilation')\n")
    target = Target(impl=str(impl))
    with target.open_runner() as runner:
        (result,) = run_cases(runner, [case], target)
    assert [v.verdict for v in result.verdicts] == ["finding", "skipped", "skipped"]
    assert result.verdicts[0].kind == "exception ValueError" and result.findings
    from symconv.backends.base import Outcome
    from symconv.sweeps.run import framework_refusal
    assert not framework_refusal(Outcome("error", meta={"error_class": "builtins.ValueError",
                                                        "raised_in": "symconv.backends.base"}), runner.backend)


# ---- engines ------------------------------------------------------------------------------------------

def _verdicts(report):
    return [(r.case_id, [(v.quantity, v.verdict, v.kind) for v in r.verdicts]) for r in report.results]


def test_a_pool_of_worker_processes_finds_what_one_worker_finds(legacy_report):
    pooled = sweep(impl=LEGACY, cases=LEGACY_CASES, workers=2, progress=False)
    assert pooled.engine == "2 worker processes"
    assert _verdicts(pooled) == _verdicts(legacy_report)
    assert [f.command for _, f in pooled.findings] == [f.command for _, f in legacy_report.findings]


def test_a_dask_cluster_finds_what_one_worker_finds(legacy_report):
    distributed = pytest.importorskip("dask.distributed")
    local = dict(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None)
    with distributed.LocalCluster(**local) as cluster, distributed.Client(cluster) as client:
        remote = sweep(impl=LEGACY, cases=LEGACY_CASES, scheduler=cluster.scheduler_address, progress=False)
        assert remote.engine == "dask"
        assert _verdicts(remote) == _verdicts(legacy_report)
        again = sweep(impl=LEGACY, cases=LEGACY_CASES[:1], scheduler=client, progress=False)   # a Client too
        assert _verdicts(again) == _verdicts(legacy_report)[:1]
        # every backend worker the cluster held was closed at the end
        assert client.run(lambda: __import__("symconv.sweeps.run").sweeps.run._HELD) == \
            {address: {} for address in client.scheduler_info()["workers"]}


def test_engine_settings_are_checked_up_front():
    with pytest.raises(SymconvError, match=r"workers must be a positive integer, got 0"):
        sweep("numpy", workers=0)
    with pytest.raises(SymconvError, match=r"scheduler must be an address such as tcp://127.0.0.1:8786"):
        sweep("numpy", ops=["conv1d"], scheduler=3, progress=False)
    with pytest.raises(SymconvError, match=r"backend must be one of"):
        sweep("caffe")


def test_sweep_is_a_top_level_function():
    assert symconv.sweep is sweep


# ---- the command line ------------------------------------------------------------------------------------

def _symconv(*argv, timeout=300):
    return subprocess.run([sys.executable, "-m", "symconv", *argv], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)


def test_the_command_prints_the_table_and_the_smallest_commands_and_writes_json(tmp_path):
    out = tmp_path / "sweep.json"
    done = _symconv("sweep", "--impl", "tests/impls/legacy_same.py", "--ops", "conv1d", "--json", str(out))
    assert done.returncode == 1, done.stderr
    assert "conv1d  SAME-tf" in done.stdout and "smallest: symconv check conv1d" in done.stdout
    assert "--impl tests/impls/legacy_same.py" in done.stdout
    assert json.loads(out.read_text())["status"] == "finding"


@pytest.mark.parametrize("argv,message", [
    (["--backend", "numpy", "--workers", "none"], "workers must be a positive integer, got 'none'"),
    (["--backend", "numpy", "--ops", "conv9d"], "ops must be among"),
    (["--backend", "numpy", "--ops", "conv1d", "--json", "/no/such/dir/x.json"], "--json '/no/such/dir/x.json' cannot be written: no such folder"),
])
def test_bad_sweep_input_is_one_line_and_exit_2(argv, message):
    done = _symconv("sweep", *argv)
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_the_progress_bar_counts_cases_and_names_a_finding(capsys):
    pytest.importorskip("tqdm")
    from types import SimpleNamespace

    from symconv.sweeps.run import _Bar
    bar = _Bar(2, True, "numpy")
    bar(SimpleNamespace(case_id="first", findings=[]))
    bar(SimpleNamespace(case_id="conv1d-NWC-VALID-no_output", findings=["one"]))
    assert bar._bar.n == 2 and "finding in conv1d-NWC-VALID-no_output" in bar._bar.postfix
    bar.close()
    assert "numpy:   0%|" in capsys.readouterr().err
    silent = _Bar(2, None, "numpy")    # not a terminal: nothing
    silent(SimpleNamespace(case_id="first", findings=[]))
    silent.close()
    assert capsys.readouterr().err == ""
