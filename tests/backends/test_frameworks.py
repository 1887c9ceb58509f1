"""PyTorch, JAX and ONNX Runtime beyond the sweep: how each framework's padding modes map to
symconv's conventions, variants and the command line, caches, devices, and a third party's
backend added with register_backend."""

import importlib.util

import numpy as np
import pytest

from symconv import ConvSpec, SymconvError, check, infer
from symconv.backends import (
    BACKENDS,
    Variant,
    VariantOption,
    backend_class,
    create,
    open_runner,
    register_backend,
    variant_environment,
)
from symconv.backends.base import Backend
from symconv.backends.runner import Worker
from symconv.backends.variants import forget_options
from symconv.cli import build_parser, main
from symconv.model import reference

from ..conftest import need_backend

FOUNDING = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")
FOUNDING_ARGS = ["conv2d", "--input", "1x3x3x1", "--kernel", "1x1x1x1", "--strides", "3", "--padding", "SAME"]


# ---- each framework's padding modes, against symconv's conventions --------------------------
# Every case has an odd padding total on some axis, where tf (the odd pixel after) and
# same_lower (before) differ; the framework's native mode must read exactly the convention's
# pads, forward and (where it has them) both gradients.

NCHW_EVEN = ConvSpec("conv2d", "1x1x5x6", "2x4x1x1", padding="SAME", data_format="NCHW")          # totals 1, 3
NHWC_EVEN = ConvSpec("conv2d", "2x5x6x2", "2x4x2x3", padding="SAME")
LOWER = ConvSpec("conv2d", "2x5x6x2", "2x4x2x3", padding="SAME", convention="same_lower")
STRIDED = ConvSpec("conv1d", "1x7x2", "4x2x2", strides=3, padding="SAME")                          # total 3
STRIDED_LOWER = ConvSpec("conv1d", "1x2x7", "4x2x2", strides=3, padding="SAME", convention="same_lower",
                         data_format="NCW")
TRANSPOSED = ConvSpec("conv2d_transpose", "1x3x3x2", "3x2x4x2", strides=2, padding="SAME")          # totals 1, 0
TRANSPOSED_LOWER = ConvSpec("conv2d_transpose", "1x2x3x3", "3x2x4x2", strides=2, padding="SAME",
                            convention="same_lower", data_format="NCHW")
TORCH_STYLE = ConvSpec("conv1d", "1x7x1", "3x1x2", dilations=2, padding="SAME", convention="torch")  # pads 2:2
SYMMETRIC = ConvSpec("conv2d", "1x6x6x1", "3x3x1x1", padding="1:1,2:2")
ASYMMETRIC = ConvSpec("conv2d", "1x6x6x1", "2x3x1x1", padding="1:0,0:2")

MAPPINGS = [
    ("torch", NCHW_EVEN, "conv2d(padding='same')", "tf"),
    ("torch", NHWC_EVEN, "conv2d(padding='same')", "tf"),
    ("torch", STRIDED, "F.pad(pads 1:2) then torch.nn.functional.conv1d(padding=0)", "tf"),
    ("torch", LOWER, "F.pad(pads 1:0,2:1) then torch.nn.functional.conv2d(padding=(0, 0))", "same_lower"),
    ("torch", TORCH_STYLE, "conv1d(padding=2)", "torch"),
    ("torch", SYMMETRIC, "conv2d(padding=(1, 2))", None),
    ("torch", ASYMMETRIC, "F.pad(pads 1:0,0:2)", None),
    ("torch", TRANSPOSED_LOWER, "conv_transpose2d(padding=(1, 0), output_padding=(1, 0))", "same_lower"),
    ("jax", NCHW_EVEN, "conv_general_dilated(padding='SAME'", "tf"),
    ("jax", LOWER, "conv_general_dilated(padding='SAME_LOWER'", "same_lower"),
    ("jax", STRIDED_LOWER, "conv_general_dilated(padding='SAME_LOWER'", "same_lower"),
    ("jax", ASYMMETRIC, "conv_general_dilated(padding=((1, 0), (0, 2))", None),
    ("jax", TRANSPOSED, "conv_transpose(padding='SAME', transpose_kernel=True", "tf"),
    ("onnxruntime", NCHW_EVEN, "Conv(auto_pad='SAME_UPPER')", "tf"),
    ("onnxruntime", STRIDED, "Conv(auto_pad='SAME_UPPER')", "tf"),
    ("onnxruntime", LOWER, "Conv(auto_pad='SAME_LOWER')", "same_lower"),
    ("onnxruntime", STRIDED_LOWER, "Conv(auto_pad='SAME_LOWER')", "same_lower"),
    ("onnxruntime", ASYMMETRIC, "Conv(pads=[1, 0, 0, 2])", None),
    ("onnxruntime", TRANSPOSED, "ConvTranspose(auto_pad='SAME_UPPER', output_shape=[6, 6])", "tf"),
    ("onnxruntime", TRANSPOSED_LOWER, "ConvTranspose(auto_pad='SAME_LOWER', output_shape=[6, 6])", "same_lower"),
]


@pytest.mark.parametrize("backend,spec,mode,convention", MAPPINGS,
                         ids=[f"{b}-{m.split('(')[-1].rstrip(')')}-{c}" for b, _, m, c in MAPPINGS])
def test_a_native_padding_mode_reads_exactly_the_conventions_pixels(backend, spec, mode, convention, runner):
    assert any(b != a for b, a in spec.pads) or convention is None or convention == "torch"
    report = check(spec, runner=runner(backend, grad_path="tape" if backend == "torch" else "raw"))
    assert report.ok, report.text()
    forward = report.results[0]
    assert mode in forward.path and "zero-padded" not in forward.path, forward.path
    checked = [r for r in report.results if r.status == "ok"]
    assert all(mode in r.path for r in checked)  # gradients by autodiff run over the same native call
    assert len(checked) == (1 if backend == "onnxruntime" else 3)
    reading = infer(spec, runner=runner(backend)).quantities["forward"]
    assert reading.pads == [list(p) for p in spec.pads]
    if convention in ("tf", "same_lower"):
        other = "same_lower" if convention == "tf" else "tf"
        assert convention in reading.conventions and other not in reading.conventions


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
def test_torch_padding_same_refuses_strides_so_strided_same_goes_through_f_pad(request):
    need_backend(request.config, "torch")
    import torch
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided convolutions"):
        torch.nn.functional.conv1d(torch.ones(1, 1, 8), torch.ones(1, 1, 4), stride=3, padding="same")
    # the extra pixel of an even kernel goes after, as TensorFlow puts it
    y = torch.nn.functional.conv1d(torch.arange(1.0, 6.0).view(1, 1, 5), torch.ones(1, 1, 2), padding="same")
    assert y.view(-1).tolist() == [3.0, 5.0, 7.0, 9.0, 5.0]
    assert "F.pad(pads 1:2)" in create("torch").describe(STRIDED, "forward", "op")


# ---- the plans, without running a framework -------------------------------------------------

def test_transposed_padding_is_what_each_framework_takes():
    from symconv.backends import jax_backend, onnx_backend, torch_backend
    spec = ConvSpec("conv1d_transpose", "1x3x1", "2x1x1", dilations=3, padding="0:-1", output_shape_request="1x7x1")
    assert torch_backend.transposed_padding(spec) == ((0,), (1,))    # output_padding 1 >= stride, < dilation
    assert jax_backend.transposed_padding(spec) == ((3, 4),)          # (k-1)*d - before, and the rest
    assert onnx_backend.node_attributes(spec) is None                  # negative pads: symconv crops
    big = ConvSpec("conv1d_transpose", "1x3x1", "2x1x1", strides=2, padding="1:0", output_shape_request="1x6x1")
    assert torch_backend.transposed_padding(big) is None               # output_padding 2 is not below stride 2
    assert onnx_backend.node_attributes(big)["output_padding"] == [1]
    assert onnx_backend.node_attributes(big)["pads"] == [1, 0]
    assert jax_backend.transposed_padding(TRANSPOSED) == "SAME"


def test_every_backend_names_the_modules_whose_exceptions_are_its_refusals():
    assert backend_class("torch").framework_modules == ("torch",)
    assert backend_class("jax").framework_modules == ("jax", "jaxlib")
    assert backend_class("onnxruntime").framework_modules == ("onnxruntime", "onnx")
    assert backend_class("tf").framework_modules == ("tensorflow",)


# ---- ONNX Runtime runs inference only -------------------------------------------------------

def test_onnxruntime_reports_its_gradients_as_skipped_with_the_reason(runner):
    report = check(FOUNDING, runner=runner("onnxruntime"))
    assert [r.status for r in report.results] == ["ok", "skipped", "skipped"]
    assert all(r.message == "ONNX Runtime runs inference only: it has no gradient to check"
               for r in report.results[1:])
    assert all(r.backend_calls == 0 for r in report.results[1:])
    assert "ONNX Runtime runs inference only" in report.text()


# ---- caches ------------------------------------------------------------------------------------

def test_jax_compiles_each_spec_and_quantity_once_and_reuses_it_across_probes(request):
    need_backend(request.config, "jax")
    with open_runner("jax") as local:
        reports = [check(NHWC_EVEN, runner=local) for _ in range(2)]
        assert all(report.ok for report in reports)
        functions = local.backend._functions
        assert sorted(q for _, q in functions) == ["filter_grad", "forward", "input_grad"]
        assert all(function._cache_size() == 1 for function in functions.values())  # one compilation each
        assert local.calls[("forward", "op")] == 2 * reports[0].results[0].plan.probes > 2


def test_onnxruntime_keeps_one_session_per_spec(request):
    need_backend(request.config, "onnxruntime")
    with open_runner("onnxruntime") as local:
        for spec in (NHWC_EVEN, NHWC_EVEN, LOWER):
            assert check(spec, runner=local).ok
        assert list(local.backend._sessions) == [NHWC_EVEN, LOWER]


# ---- variants, devices, the command line ------------------------------------------------------

def test_each_framework_declares_its_own_variant_options():
    torch, jax, onnxruntime = (backend_class(name) for name in ("torch", "jax", "onnxruntime"))
    assert torch(Variant(mkldnn=False, deterministic=True)).variant.describe() == \
        "cpu, mkldnn off, deterministic algorithms on, cuDNN benchmark default, default threads"
    assert onnxruntime(Variant(graph_optimization="off", threads=1)).variant.as_json() == \
        {"device": "cpu", "graph_optimization": "off", "threads": 1}
    assert jax(Variant("cuda")).variant.describe() == "gpu"
    with pytest.raises(SymconvError, match=r"backend 'torch' has no variant option 'onednn' \(its options: "
                                           r"compile, cudnn_benchmark, deterministic, memory_format, mkldnn, threads\)"):
        torch(Variant(onednn=False))
    with pytest.raises(SymconvError, match=r"backend 'jax' has no variant option 'threads' \(its options: jit\)"):
        jax(Variant(threads=2))


def test_only_options_read_at_start_up_need_a_process_of_their_own(monkeypatch):
    default = Worker(Variant())
    assert default.accepts(Variant(mkldnn=False, deterministic=True)) and default.accepts(Variant("gpu"))
    assert not default.accepts(Variant(threads=1)) and not default.accepts(Variant(onednn=False))
    assert not Variant(mkldnn=False).needs_child and Variant(onednn=True).needs_child
    for name in ("TF_ENABLE_ONEDNN_OPTS", "XLA_PYTHON_CLIENT_PREALLOCATE", "TF_CPP_MIN_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    env = variant_environment(Variant(onednn=False))
    assert env["TF_ENABLE_ONEDNN_OPTS"] == "0" and env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert "TF_ENABLE_ONEDNN_OPTS" not in variant_environment(Variant(mkldnn=False))


def test_the_command_line_takes_each_option_as_a_flag_or_by_name():
    from symconv.backends import variant_from_args
    parser = build_parser()
    flags = parser.parse_args(["check", *FOUNDING_ARGS, "--backend", "torch", "--mkldnn", "off",
                               "--cudnn-benchmark", "on", "--device", "cuda"])
    named = parser.parse_args(["check", *FOUNDING_ARGS, "--backend", "torch", "--device", "gpu",
                               "--variant", "mkldnn=off,cudnn-benchmark=on"])
    assert variant_from_args(flags) == variant_from_args(named) == Variant("gpu", mkldnn=False, cudnn_benchmark=True)
    clash = parser.parse_args(["check", *FOUNDING_ARGS, "--backend", "torch", "--mkldnn", "on",
                               "--variant", "mkldnn=off"])
    with pytest.raises(SymconvError, match="variant option mkldnn is given twice"):
        variant_from_args(clash)


@pytest.mark.parametrize("argv,message", [
    (["--backend", "torch", "--onednn", "off"], "backend 'torch' has no variant option 'onednn'"),
    (["--backend", "onnxruntime", "--variant", "fast"], "variant must look like key=value,key=value, got 'fast'"),
    (["--backend", "torch", "--variant", "warp=9"], "variant option must be one of"),
    (["--backend", "torch", "--deterministic", "maybe"], "invalid choice: 'maybe'"),
])
def test_bad_variants_are_one_line_and_exit_two(argv, message, capsys):
    try:
        status = main(["check", *FOUNDING_ARGS, "--in-process", *argv])
    except SystemExit as exit_info:  # argparse's own refusals
        status = exit_info.code
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_check_on_the_command_line_names_the_torch_variant(request, capsys):
    need_backend(request.config, "torch")
    assert main(["check", *FOUNDING_ARGS, "--backend", "torch", "--mkldnn", "off", "--deterministic", "on",
                 "--grad-path", "both", "--in-process"]) == 0
    out = capsys.readouterr().out
    assert ("backend torch (cpu, mkldnn off, deterministic algorithms on, cuDNN benchmark default, default "
            "threads): every checked quantity agrees exactly") in out
    assert "torch.ops.aten.convolution_backward of torch.nn.functional.conv2d(padding=(0, 0))" in out
    assert "torch.autograd.grad over torch.nn.functional.conv2d(padding=(0, 0))" in out


@pytest.mark.parametrize("backend,reason", [("torch", "no CUDA device visible to PyTorch"),
                                            ("jax", "no GPU visible to JAX"),
                                            ("onnxruntime", "this ONNX Runtime build has no CUDAExecutionProvider")])
def test_a_gpu_variant_without_a_gpu_is_skipped_with_the_reason(backend, reason, runner):
    report = check(FOUNDING, runner=runner(backend, Variant("cuda")), quantities=("forward",))
    if report.results[0].status == "ok":
        pytest.skip(f"this machine has a GPU for {backend}: the GPU variant runs for real")
    assert (report.results[0].status, report.results[0].message) == ("skipped", reason)


@pytest.mark.parametrize("backend,module,extra", [("torch", "torch", "torch"), ("jax", "jax", "jax"),
                                                  ("onnxruntime", "onnxruntime", "onnx")])
def test_a_missing_framework_names_the_extra_to_install(backend, module, extra, monkeypatch):
    real, hidden = importlib.util.find_spec, {"torch", "jax", "jaxlib", "onnx", "onnxruntime"}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in hidden else real(name, *a))
    with pytest.raises(SymconvError, match=rf"^backend '{backend}' needs {module}, which is not installed: "
                                           rf"pip install 'symconv\[{extra}\]'$"):
        create(backend)


# ---- a third party's backend ------------------------------------------------------------------

REVERSED = VariantOption("reversed_loops", "reversed loops", "sum the products last to first")


class LoopsBackend(Backend):
    """A backend as a third party writes one: symconv's loop reference, in float32."""

    name = "loops"
    has_variant = True
    framework_modules = ("numpy",)
    variant_options = (REVERSED,)

    def describe(self, spec, quantity, path):
        return f"loops {quantity}" + (" reversed" if self.variant.get("reversed_loops") else "")

    def run(self, spec, quantity, path, tensors):
        exact = {name: np.asarray(array, dtype=np.int64) for name, array in tensors.items()}
        return reference.evaluate(spec, quantity, **exact).astype(np.float32)


@pytest.fixture
def registered():
    added = []

    def add(name, *args, **kwargs):
        register_backend(name, *args, **kwargs)
        added.append(name)
    yield add
    for name in added:
        BACKENDS.pop(name, None)
    forget_options()


def test_a_third_party_backend_runs_in_process_and_in_a_child(registered, capsys):
    registered("third-party-loops", LoopsBackend, framework="numpy")
    registered("third-party-by-name", "tests.backends.test_frameworks:LoopsBackend")
    assert check(FOUNDING, "third-party-loops").ok
    isolated = check(FOUNDING, "third-party-by-name", variant=Variant(reversed_loops=True), isolate=True)
    assert isolated.ok and isolated.results[0].path == "loops forward reversed"
    assert isolated.to_json()["variant"] == {"device": "cpu", "reversed_loops": "on"}
    assert main(["check", *FOUNDING_ARGS, "--backend", "third-party-loops", "--reversed-loops", "on",
                 "--in-process"]) == 0
    assert "backend loops (cpu, reversed loops on): every checked quantity agrees exactly" in capsys.readouterr().out


def test_registering_a_backend_checks_what_it_is_given(registered):
    registered("needs-a-framework", LoopsBackend, framework="not_a_module_anywhere",
               install_hint="pip install not-a-module")
    with pytest.raises(SymconvError, match="backend 'needs-a-framework' needs not_a_module_anywhere, which is not "
                                           "installed: pip install not-a-module"):
        create("needs-a-framework")
    with pytest.raises(SymconvError, match="backend 'torch' is already registered"):
        register_backend("torch", LoopsBackend)
    with pytest.raises(SymconvError, match="backend name must be a word"):
        register_backend("two words", LoopsBackend)
    with pytest.raises(SymconvError, match="backend class must be a Backend subclass or 'package.module:ClassName'"):
        register_backend("not-a-class", object)
    registered("not-importable", "tests.nowhere:Backend")
    with pytest.raises(SymconvError, match="backend 'not-importable' is registered as 'tests.nowhere:Backend', "
                                           "which cannot be imported"):
        create("not-importable")
