"""Backends without a framework: the registry, variants, the numpy reference, user impl files,
and the child runner that outlives crashes and hangs."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from symconv import ConvSpec, SymconvError, check
from symconv.backends import BACKENDS, Variant, backend_class, create, open_runner, parse_switch
from symconv.backends.base import (
    Call,
    PaddedRun,
    native_padding,
    pad_direct_input,
    unpad_direct_input,
    valid_equivalent,
)
from symconv.model.indexmap import maps_for

from ..paths import IMPLS

FOUNDING = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")


def write_impl(tmp_path, body, name="impl.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


def test_importing_symconv_and_its_checker_imports_no_framework():
    code = ("import sys, symconv, symconv.backends, symconv.checks.verdicts, symconv.probing.probe, symconv.checks.explanation, symconv.cli\n"
            "import symconv.backends.tf_backend, symconv.backends.keras_backend, symconv.backends.torch_backend\n"
            "import symconv.backends.jax_backend, symconv.backends.onnx_backend\n"
            "from symconv.cli import build_parser; build_parser()\n"
            "print(sorted(m for m in ('tensorflow', 'keras', 'torch', 'jax', 'jaxlib', 'onnx', 'onnxruntime')\n"
            "             if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_registry_names_every_backend_and_refuses_unknown_ones():
    assert set(BACKENDS) == {"numpy", "tf", "tf-xla", "keras", "torch", "jax", "onnxruntime", "litert", "openvino"}
    with pytest.raises(SymconvError, match="backend must be one of jax, keras, litert, numpy, onnxruntime, openvino, "
                                           "tf, tf-xla, torch, got 'torchx'"):
        create("torchx")
    with pytest.raises(SymconvError, match="exactly one of a backend"):
        create("numpy", impl="x.py")
    with pytest.raises(SymconvError, match="grad path must be one of raw, tape, both, got 'sideways'"):
        create("numpy", grad_path="sideways")


def test_a_missing_framework_names_the_extra_to_install(monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorflow" else real(name, *a))
    with pytest.raises(SymconvError, match=r"backend 'tf' needs tensorflow, which is not installed: "
                                           r"pip install 'symconv\[tf-cpu\]'"):
        create("tf")


def test_variants_validate_and_describe_themselves():
    tf = backend_class("tf")  # the class, without TensorFlow
    assert tf().variant.describe() == "cpu, oneDNN default, default threads"
    assert tf(Variant("gpu", onednn=True, threads=4)).variant.as_json() == \
        {"device": "gpu", "onednn": "on", "threads": 4}
    assert Variant(onednn="off", threads=1).describe() == "cpu, oneDNN off, 1 intra-op thread"
    assert not Variant().needs_child and Variant(threads=2).needs_child and Variant(onednn=False).needs_child
    assert Variant("cuda") == Variant("GPU") and Variant(onednn=None) == Variant()
    with pytest.raises(SymconvError, match="device must be cpu, gpu or cuda, got 'tpu'"):
        Variant("tpu")
    with pytest.raises(SymconvError, match="threads must be a positive integer, got 0"):
        Variant(threads=0)
    with pytest.raises(SymconvError, match="onednn must be on or off, got 'maybe'"):
        Variant(onednn="maybe")
    with pytest.raises(SymconvError, match="variant option must be one of .*onednn.*, got 'turbo'"):
        Variant(turbo=True)
    assert parse_switch("off", "x") is False and parse_switch("ON", "x") is True and parse_switch(None, "x") is None
    with pytest.raises(SymconvError, match="mkldnn must be on or off, got 'maybe'"):
        parse_switch("maybe", "mkldnn")


def test_a_backend_refuses_a_variant_option_it_does_not_honour():
    with pytest.raises(SymconvError, match=r"backend 'tf' has no variant option 'mkldnn' \(its options: api, onednn, "
                                           r"threads\)"):
        create("tf", variant=Variant(mkldnn=False))  # refused before TensorFlow is looked for
    with pytest.raises(SymconvError, match=r"backend 'numpy' has no variant option 'threads' \(it has none\)"):
        create("numpy", variant=Variant(threads=1))


@pytest.mark.parametrize("spec", [
    ConvSpec("conv2d", "1x5x4x2", "3x2x2x3", padding="1:2,-1:0"),
    ConvSpec("conv1d_transpose", "2x3x2", "3x2x2", strides=2, padding="-1:2"),
    ConvSpec("depthwise_conv2d", "1x2x5x4", "2x2x2x2", padding="SAME", convention="legacy_eigen",
             strides=3, data_format="NCHW"),
], ids=["conv2d", "conv1d_transpose", "depthwise-NCHW"])
def test_padding_a_framework_cannot_take_runs_as_valid_on_the_padded_big_tensor(spec):
    rng = np.random.default_rng(0)
    tensors = {n: rng.integers(-5, 6, spec.shape_of(n)) for n in ("x", "k", "g")}
    valid = valid_equivalent(spec)
    assert valid.padding == "VALID" and native_padding(spec, explicit_ok=False) is None
    run = PaddedRun(spec)
    for quantity, names in (("forward", "xk"), ("filter_grad", "xg"), ("input_grad", "kg")):
        args = {n: tensors[n] for n in names}
        got = run(quantity, args, lambda v, t: maps_for(v).evaluate(quantity, **t))
        assert np.array_equal(got, maps_for(spec).evaluate(quantity, **args)), quantity
    big = "y" if spec.kind == "transpose" else "x"
    array = rng.integers(1, 9, spec.shape_of(big))
    assert unpad_direct_input(spec, pad_direct_input(spec, array)).shape == array.shape
    assert "zero-padded (negative: cropped) by symconv" in run.note()


def test_native_padding_keeps_same_and_valid_and_takes_explicit_pads_only_where_allowed():
    assert native_padding(FOUNDING, explicit_ok=False) == "SAME"
    legacy = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME", convention="legacy_eigen")
    assert native_padding(legacy, explicit_ok=True) is None  # -1 pads crop: symconv must do it
    lower = ConvSpec("conv2d", "1x4x4x1", "2x2x1x1", padding="SAME", convention="same_lower")
    assert native_padding(lower, explicit_ok=True) == ((1, 0), (1, 0))
    assert native_padding(lower, explicit_ok=False) is None


def test_numpy_backend_agrees_with_the_model_on_founding_and_transposed_cases():
    for spec in (FOUNDING, ConvSpec("conv2d_transpose", "1x3x3x2", "3x3x4x2", strides=2, padding="SAME"),
                 ConvSpec("conv3d", "2x3x4x3x2", "2x2x2x2x3", strides=(1, 2, 1), padding="VALID")):
        report = check(spec, "numpy")
        assert report.ok, report.text()
        assert [r.path for r in report.results] == [f"symconv.reference.{q} (NumPy loops, float64)"
                                                    for q in ("forward", "filter_grad", "input_grad")]


def test_impl_file_errors_are_one_line(tmp_path):
    with pytest.raises(SymconvError, match="impl must be a Python file ending in .py, got 'conv.txt'"):
        create(impl="conv.txt")
    with pytest.raises(SymconvError, match="impl file does not exist: .*nowhere.py"):
        create(impl=str(tmp_path / "nowhere.py"))
    bad = write_impl(tmp_path, "def forward(x, k, spec:\n")
    with pytest.raises(SymconvError, match="cannot be read as Python"):
        create(impl=bad)


def test_an_impl_that_defines_only_some_functions_is_checked_on_those(tmp_path):
    path = write_impl(tmp_path, """
        from symconv import reference
        def filter_grad(x, g, spec):
            return reference.filter_grad(spec, x, g)
    """)
    report = check(FOUNDING, impl=path)
    assert [r.status for r in report.results] == ["skipped", "ok", "skipped"]
    assert report.results[0].message == "impl.py does not define forward(x, k, spec)"
    assert report.ok


def test_exceptions_shapes_and_garbage_from_an_impl_are_reported(tmp_path):
    path = write_impl(tmp_path, """
        import numpy as np
        def forward(x, k, spec):
            raise ZeroDivisionError("the window fell off the edge\\nsecond line")
        def filter_grad(x, g, spec):
            return np.zeros((2, 2))
        def input_grad(k, g, spec):
            out = np.zeros(spec.x_shape)
            out[0, 0, 0, 0] = np.nan
            out[0, 1, 1, 0] = 0.5
            return out
    """)
    forward, filter_grad, input_grad = check(FOUNDING, impl=path).results
    assert (forward.status, forward.message) == ("error", "ZeroDivisionError: the window fell off the edge (raised by "
                                                          "the implementation at impl.py:4 in forward)")
    assert forward.exception == "ZeroDivisionError: the window fell off the edge"
    assert filter_grad.status == "error" and filter_grad.observed_shape == (2, 2)
    assert filter_grad.message == "wrong output shape: expected (1, 1, 1, 1), got (2, 2)"
    assert input_grad.status == "error" and input_grad.mismatch_count == 2
    assert input_grad.message == ("2 of 9 entries hold values no sum of products of the integer probes can take "
                                  "(1 non-finite (NaN or Inf), 1 not integers), e.g. dx[0,0,0,0] = NaN; "
                                  "dx[0,1,1,0] = 0.5")


def test_an_impl_that_loads_badly_fails_every_call(tmp_path):
    path = write_impl(tmp_path, "import not_a_module_anywhere\ndef forward(x, k, spec):\n    return x\n")
    result = check(FOUNDING, impl=path).results[0]
    assert result.status == "error"
    assert result.message.startswith("LoadError: backend failed to load: ModuleNotFoundError")


def test_a_segfaulting_impl_is_an_error_for_that_quantity_and_the_run_goes_on():
    report = check(FOUNDING, impl=os.path.join(IMPLS, "segfaults.py"), isolate=True)
    forward, filter_grad, input_grad = report.results
    assert forward.status == "error"
    assert forward.message.startswith("crash: backend process died with signal SIGSEGV during forward")
    assert filter_grad.status == input_grad.status == "ok"


def test_a_hanging_impl_is_stopped_after_the_timeout(tmp_path):
    path = write_impl(tmp_path, """
        import time
        from symconv import reference
        def forward(x, k, spec):
            time.sleep(60)
        def input_grad(k, g, spec):
            return reference.input_grad(spec, k, g)
    """)
    report = check(FOUNDING, impl=path, isolate=True, timeout=3)
    assert report.results[0].status == "error"
    assert "did not answer within 3 s and was stopped during forward" in report.results[0].message
    assert report.results[2].status == "ok"


def test_runners_count_calls_per_quantity_and_path():
    with open_runner("numpy") as runner:
        outcome = runner.run([Call(FOUNDING, "forward", "op", {"x": np.ones((1, 3, 3, 1)), "k": np.ones((1, 1, 1, 1))})])
    assert outcome[0].status == "ok" and outcome[0].value.shape == (1, 1, 1, 1)
    assert runner.calls[("forward", "op")] == 1


def test_a_required_backend_that_cannot_load_fails_instead_of_skipping(monkeypatch, request):
    import importlib.util

    from ..conftest import need_backend, required_backends
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorflow" else real(name, *a))
    monkeypatch.setenv("SYMCONV_REQUIRE_BACKENDS", "tf, keras")
    assert {"tf", "keras"} <= required_backends(request.config)
    with pytest.raises(pytest.fail.Exception, match="backend 'tf' cannot load: tensorflow is not installed"):
        need_backend(request.config, "tf")
    monkeypatch.setenv("SYMCONV_REQUIRE_BACKENDS", "")
    if "tf" not in request.config.getoption("symconv_backends"):
        with pytest.raises(pytest.skip.Exception, match="backend 'tf' cannot load"):
            need_backend(request.config, "tf")
    need_backend(request.config, "numpy")  # no framework: always there
