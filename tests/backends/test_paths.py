"""Execution paths: declared as data by the backends, selected by variant options, named by
reports; and each path's slice of the quick sweep against the exact model (the full sweep of every
path is the conformance matrix, docs/conformance.md, not the test suite)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from symconv.backends import Variant, create
from symconv.backends.execution import KINDS, describe_paths, execution_of, flags_of, registered_paths
from symconv.errors import SymconvError
from symconv.sweeps.cases import Case, sweep_cases

from ..conftest import backend_missing, required_backends

PATHS = registered_paths()


def test_every_backend_declares_its_paths_and_each_is_selected_by_its_own_flags():
    for name in ("tf", "tf-xla", "keras", "torch", "jax", "onnxruntime", "litert", "openvino"):
        mine = [p for p in PATHS.values() if p.backend == name]
        assert mine, name
        assert sum(not p.selects for p in mine) == 1, f"{name} needs exactly one default path"
        for path in mine:
            assert path.kind in KINDS and path.how and path.quantities and path.framework
            variant = Variant(**dict(path.selects))
            assert execution_of(name, variant).name == path.name


def test_runtimes_are_forward_only_and_compiled_paths_produce_gradients():
    for path in PATHS.values():
        if path.backend in ("onnxruntime", "litert", "openvino"):
            assert path.quantities == ("forward",) and "forward only" in path.gradients, path
    for name in ("torch-compile-inductor", "tf-xla", "jax-jit", "keras-jax", "keras-torch"):
        assert set(PATHS[name].quantities) == {"forward", "filter_grad", "input_grad"}


@pytest.mark.parametrize("name,flags", [("torch-compile-inductor", ["--compile", "inductor"]),
                                        ("torch-channels-last", ["--memory-format", "channels_last"]),
                                        ("keras-jax", ["--keras-backend", "jax"]),
                                        ("tf-convolution", ["--api", "convolution"]),
                                        ("litert-builtin", ["--xnnpack", "off"]),
                                        ("onnxruntime-from-tf", ["--onnx-from", "tf"]),
                                        ("openvino-from-torch", ["--openvino-from", "torch"]),
                                        ("jax-eager", ["--jit", "off"])])
def test_a_path_is_named_by_the_flags_that_select_it(name, flags):
    assert flags_of(PATHS[name]) == flags
    assert name in describe_paths()


def test_a_choice_option_refuses_a_value_it_does_not_have():
    with pytest.raises(SymconvError, match="compile must be one of inductor, aot_eager, got 'tvm'"):
        Variant(compile="tvm")
    with pytest.raises(SymconvError, match="backend 'jax' has no variant option 'compile'"):
        create("jax", variant=Variant(compile="inductor"))


def test_a_path_whose_requirement_is_missing_names_the_extra(monkeypatch):
    import symconv.backends.execution as execution
    monkeypatch.setattr(execution.importlib.util, "find_spec",
                        lambda name: None if name == "tf2onnx" else object())
    with pytest.raises(SymconvError, match=r"execution path onnxruntime-from-tf needs tf2onnx is not installed: "
                                           r"pip install 'symconv\[tf2onnx\]'"):
        PATHS["onnxruntime-from-tf"].require()


def test_the_command_line_takes_the_path_flags_and_refuses_a_wrong_value():
    done = subprocess.run([sys.executable, "-m", "symconv", "check", "conv2d", "--input", "1x3x3x1", "--kernel",
                           "1x1x1x1", "--backend", "torch", "--compile", "tvm"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 2 and "--compile: invalid choice: 'tvm'" in done.stderr


# ---- each path on a slice of the quick sweep ---------------------------------------------------

SLICE = ["conv2d-NHWC-SAME-tf-founding_geometry", "conv2d-NCHW-explicit-negative_pads",
         "conv2d_transpose-NHWC-SAME-same_lower-groups", "conv1d-NWC-SAME-tf-padding_total_-3",
         "depthwise_conv2d-NHWC-SAME-tf-dilated_at_stride_1", "conv3d-NDHWC-SAME-tf-founding_geometry"]
CASES = {case.case_id: case for case in sweep_cases("quick")}
# (path, case) -> why the path is known to differ from the model there (confirmed in docs/conformance.md)
KNOWN = {("onnxruntime-from-torch", "conv1d-NWC-SAME-tf-padding_total_-3"): "ONNX Runtime's SAME_UPPER with a "
         "negative padding total (PyTorch exports padding='same' as explicit pads: not reached)",
         ("onnxruntime-from-tf", "conv1d-NWC-SAME-tf-padding_total_-3"): "ONNX Runtime's SAME_UPPER with a negative "
         "padding total, as tf2onnx writes SAME",
         ("onnxruntime-from-tf", "conv2d_transpose-NHWC-SAME-same_lower-groups"): "tf2onnx converts a grouped "
         "conv2d_transpose without its groups (docs/reproducers/tf2onnx_grouped_conv_transpose_drops_groups.py)"}
SLICE_RUNS = [("torch-compile-inductor", "torch", Variant(compile="inductor", threads=1), "tape"),
              ("torch-channels-last", "torch", Variant(memory_format="channels_last", threads=1), "both"),
              ("jax-eager", "jax", Variant(jit=False), "raw"),
              ("tf-convolution", "tf", Variant(onednn=True, api="convolution"), "tape"),
              ("keras-jax", "keras", Variant(keras_backend="jax"), "raw"),
              ("keras-torch", "keras", Variant(keras_backend="torch", threads=1), "raw"),
              ("litert-xnnpack", "litert", Variant(threads=1), "raw"),
              ("litert-builtin", "litert", Variant(xnnpack=False, threads=1), "raw"),
              ("onnxruntime-from-torch", "onnxruntime", Variant(onnx_from="torch", threads=1), "raw"),
              ("onnxruntime-from-tf", "onnxruntime", Variant(onnx_from="tf", threads=1), "raw"),
              ("openvino-from-onnx", "openvino", Variant(threads=1), "raw"),
              ("openvino-from-torch", "openvino", Variant(openvino_from="torch", threads=1), "raw")]


def need_path(config, name: str) -> None:
    """Skip when a path's requirements are not met here, or fail when the run requires its
    backend or the path itself (SYMCONV_REQUIRE_BACKENDS, --symconv-backend)."""
    path = PATHS[name]
    problems = path.problems()
    if problems:
        if name in required_backends(config):
            pytest.fail(f"path {name!r} cannot run: {'; '.join(problems)}", pytrace=False)
        backend_missing(config, path.backend, "; ".join(problems))


@pytest.fixture(scope="module")
def slice_results():
    from symconv.backends import open_runner
    from symconv.sweeps.run import run_cases
    done = {}

    def results(name, backend, variant, grad_path):
        if name not in done:
            with open_runner(backend, variant=variant, grad_path=grad_path, isolate=True) as runner:
                cases = [Case(c, CASES[c].spec, "") for c in SLICE]
                done[name] = ({r.case_id: r for r in run_cases(runner, cases, shrink_findings=False)},
                              runner.backend.execution)
        return done[name]
    return results


@pytest.mark.parametrize("name,backend,variant,grad_path", SLICE_RUNS, ids=[r[0] for r in SLICE_RUNS])
def test_each_path_agrees_with_the_model_on_its_slice(name, backend, variant, grad_path, request, slice_results):
    need_path(request.config, name)
    results, path = slice_results(name, backend, variant, grad_path)
    assert path.name == name
    failed = next((v.message for r in results.values() for v in r.verdicts if "failed to load" in v.message), None)
    if failed:
        backend_missing(request.config, backend, failed)
    computed = [r for r in results.values() if any(v.verdict == "ok" and v.compared for v in r.verdicts)]
    assert len(computed) >= len(SLICE) // 2, {c: r.verdict for c, r in results.items()}
    for case_id, result in results.items():
        for finding in result.findings:
            assert (name, case_id) in KNOWN, f"{case_id}: {finding.verdict.text()}"
            assert finding.confirmed, finding.confirmation
        for verdict in result.verdicts:
            if verdict.quantity not in path.quantities:
                assert verdict.verdict == "skipped" and "inference only" in verdict.message


def test_the_report_and_its_json_name_the_path(request):
    need_path(request.config, "jax-eager")
    from symconv import ConvSpec, check
    report = check(ConvSpec("conv1d", "1x4x1", "2x1x1", padding="SAME"), "jax", variant=Variant(jit=False))
    assert "via jax-eager (eager op)" in report.text()
    path = json.loads(json.dumps(report.to_json()))["path"]
    assert path["name"] == "jax-eager" and path["kind"] == "eager op" and path["selects"] == {"jit": False}
