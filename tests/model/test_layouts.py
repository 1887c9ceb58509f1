"""Layouts as data: every op in every data format and kernel layout (a random permutation by name
among them) gives the same convolution, moved by permutations this test computes itself from the
layout letters; backends take specs in PyTorch's kernel layouts; entries follow the layout asked."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symconv
from symconv import ConvSpec, SymconvError
from symconv.model import reference
from symconv.model.indexmap import maps_for
from symconv.model.spec import DATA_FORMATS, KERNEL_LAYOUTS, OPS

from ..conftest import need_backend

SPATIAL = {1: "W", 2: "HW", 3: "DHW"}
NEEDS = {"forward": ("x", "k"), "filter_grad": ("x", "g"), "input_grad": ("k", "g")}
HOLDS = {"forward": "y", "filter_grad": "k", "input_grad": "x"}


def tf_spec(op, channels=2, multiplier=2, size=5, groups=1, **fields):
    """A small spec in TensorFlow's layouts (channels last, kernel HWIO / HWCM / HWOI)."""
    nd, kind = OPS[op]
    x = (2, *[size - i for i in range(nd)], channels * groups)
    ks = (3, 2, 3)[:nd]
    kernel = {"conv": (*ks, channels, 3 * groups), "depthwise": (*ks, channels * groups, multiplier),
              "transpose": (*ks, 3, channels * groups)}[kind]
    return ConvSpec(op, x, kernel, groups=groups if kind != "depthwise" else 1, **fields)


def letters_of(spec, tensor):
    return spec.data_format if tensor in ("x", "y", "g") else spec.kernel_layout


def moved(array, from_letters, to_letters):
    """An array in one layout rearranged for another, from the letters alone (C, M merged to
    I = 1, O = C*M when the other side has no C)."""
    array = np.asarray(array)
    if "C" in from_letters and "M" in from_letters and "M" not in to_letters:
        at = from_letters.index("C")
        shape = array.shape[:at] + (1, array.shape[at] * array.shape[at + 1]) + array.shape[at + 2:]
        array, from_letters = array.reshape(shape), from_letters.replace("CM", "IO")
    return np.transpose(array, [from_letters.index(a) for a in to_letters])


def relaid(spec, fmt, kernel):
    """The spec with its tensors in data format ``fmt`` and kernel layout ``kernel`` (shapes
    moved here, not by symconv)."""
    x = moved(np.empty(spec.x_shape), spec.data_format, fmt).shape
    k = moved(np.empty(spec.k_shape), spec.kernel_layout, kernel).shape
    request = None if spec.output_shape_request is None else \
        moved(np.empty(spec.output_shape_request), spec.data_format, fmt).shape
    return ConvSpec(spec.op, x, k, spec.strides, spec.dilations, spec.padding, spec.convention, fmt, spec.groups,
                    request, kernel)


@st.composite
def layouts(draw, op):
    nd, kind = OPS[op]
    fmt = draw(st.sampled_from(DATA_FORMATS[nd]))
    named = [KERNEL_LAYOUTS[n][kind].format(SPATIAL[nd]) for n in ("tf", "torch")]
    shuffled = "".join(draw(st.permutations(SPATIAL[nd] + "IO")))
    return fmt, draw(st.sampled_from(named + [shuffled]))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), op=st.sampled_from(sorted(OPS)), seed=st.integers(0, 2**16),
       padding=st.sampled_from(["SAME", "VALID", "1:-1", "0:2"]), strides=st.integers(1, 2))
def test_every_layout_is_the_same_convolution_moved(data, op, seed, padding, strides):
    nd = OPS[op].ndim
    groups = 2 if OPS[op].kind == "conv" and seed % 2 else 1
    base = tf_spec(op, groups=groups, padding=padding if "," not in padding else padding,
                   strides=strides)
    fmt, kernel = data.draw(layouts(op))
    other = relaid(base, fmt, kernel)
    assert other.kernel_layout == kernel and other.pads == base.pads
    rng = np.random.default_rng(seed)
    tensors = {t: rng.integers(-9, 10, base.shape_of(t)) for t in ("x", "k", "g")}
    theirs = {t: moved(a, letters_of(base, t), letters_of(other, t)) for t, a in tensors.items()}
    for quantity, names in NEEDS.items():
        want = moved(maps_for(base).evaluate(quantity, **{n: tensors[n] for n in names}),
                     letters_of(base, HOLDS[quantity]), letters_of(other, HOLDS[quantity]))
        by_maps = maps_for(other).evaluate(quantity, **{n: theirs[n] for n in names})
        by_loops = reference.evaluate(other, quantity, **{n: theirs[n] for n in names})
        assert np.array_equal(by_maps, want) and np.array_equal(by_loops, want), (quantity, other)
    assert nd == other.ndim


@pytest.mark.parametrize("op", sorted(OPS))
def test_the_literal_route_agrees_in_pytorchs_layouts(op):
    spec = tf_spec(op, channels=1, multiplier=2, size=4, padding="SAME")
    torch_like = relaid(spec, DATA_FORMATS[spec.ndim][1], KERNEL_LAYOUTS["torch"][spec.kind].format(SPATIAL[spec.ndim]))
    literal = symconv.literal_derivation(torch_like)
    for quantity in ("forward", "filter_grad", "input_grad"):
        for index, expr in list(literal.entries(quantity).items())[:6]:
            assert symconv.expression(torch_like, quantity, index) - expr == 0, (quantity, index)


def test_kernel_layouts_by_name_and_their_errors():
    assert ConvSpec("conv2d", "1x2x5x5", "4x2x3x3", data_format="NCHW", kernel_layout="torch").kernel_layout == "OIHW"
    assert ConvSpec("conv3d", "1x4x4x4x2", "2x2x2x2x3", kernel_layout="dhwio").kernel_layout == "DHWIO"
    assert ConvSpec("conv1d_transpose", "1x5x2", "2x3x3", kernel_layout="IOW").y_shape == (1, 7, 3)
    depthwise = ConvSpec("depthwise_conv2d", "1x5x5x3", "6x1x3x3", kernel_layout="OIHW")
    assert depthwise.y_shape == (1, 3, 3, 6) and depthwise.conv_groups == 3
    with pytest.raises(SymconvError, match=r"kernel layout for conv2d must be a permutation of H, W, I and O.*"
                                           r"got 'HWIX'"):
        ConvSpec("conv2d", "1x5x5x2", "3x3x2x4", kernel_layout="HWIX")
    with pytest.raises(SymconvError, match=r"kernel layout for conv2d must be .*got 'HWCM'"):
        ConvSpec("conv2d", "1x5x5x2", "3x3x2x4", kernel_layout="HWCM")
    with pytest.raises(SymconvError, match=r"depthwise kernel out-channels .* must equal input channels, got 5 and 3"):
        ConvSpec("depthwise_conv2d", "1x5x5x3", "5x1x3x3", kernel_layout="OIHW")
    with pytest.raises(SymconvError, match=r"kernel in-channels times groups must equal input channels: 3 x 1 != 2"):
        ConvSpec("conv2d", "1x5x5x2", "4x3x3x3", kernel_layout="OIHW")


def test_which_answers_in_the_kernel_layout_asked_for():
    argv = ["which", "conv2d", "--input", "1x2x4x4", "--data-format", "NCHW", "--kernel", "3x2x3x3",
            "--kernel-layout", "OIHW", "--padding", "SAME", "--entry", "dk[1,0,2,2]", "--json"]
    out = subprocess.run([sys.executable, "-m", "symconv", *argv], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["entry"] == "dk[1,0,2,2]"
    assert answer["terms"][0] == {"g": [0, 1, 0, 0], "x": [0, 0, 1, 1]}
    tf = ConvSpec("conv2d", "1x4x4x2", "3x3x2x3", padding="SAME")
    assert symconv.which(tf, "dk[2,2,0,1]").term_count == answer["term_count"] == 9


def test_impl_files_receive_the_spec_and_arrays_in_its_layouts(tmp_path):
    impl = tmp_path / "mine.py"
    impl.write_text("from symconv import reference\n"
                    "def forward(x, k, spec):\n"
                    "    assert spec.kernel_layout == 'OIHW' and k.shape == spec.kernel_shape\n"
                    "    return reference.forward(spec, x, k)\n")
    spec = ConvSpec("conv2d", "1x2x5x5", "4x2x3x3", data_format="NCHW", kernel_layout="OIHW", padding="SAME")
    report = symconv.check(spec, impl=str(impl), quantities=["y"])
    assert report.results[0].status == "ok", report.text()


FRAMEWORK_SPECS = [
    ConvSpec("conv2d", "1x2x6x5", "4x2x3x3", strides=2, padding="SAME", data_format="NCHW", kernel_layout="OIHW"),
    ConvSpec("conv2d_transpose", "1x4x4x2", "2x3x3x3", strides=2, padding="SAME", kernel_layout="IOHW"),
    ConvSpec("depthwise_conv2d", "1x5x5x2", "4x1x3x3", padding="1:0,0:2", kernel_layout="OIHW"),
    ConvSpec("conv1d", "1x7x4", "4x2x3", groups=2, padding="SAME", kernel_layout="OIW"),
]


@pytest.mark.parametrize("backend", ["torch", "jax", "onnxruntime", "tf", "keras"])
def test_every_framework_checks_specs_in_pytorchs_kernel_layouts(backend, request):
    need_backend(request.config, backend)
    for spec in FRAMEWORK_SPECS:
        report = symconv.check(spec, backend)
        assert report.status == "ok", report.text()
        if backend in ("tf", "keras"):
            assert f"k moved from {spec.kernel_layout} to" in report.results[0].path
        else:
            assert "moved" not in report.results[0].path


# ---- channels-first where TensorFlow's CPU kernels refuse it -------------------------------------
# Without oneDNN (TensorFlow's default on CPUs without AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX,
# such as AVX2-only ones) every TensorFlow convolution op refuses channels-first on a CPU; symconv
# then moves the activations to channels-last itself and the path says so.  With oneDNN on, and
# under XLA, channels-first is called as it is.

CHANNELS_FIRST = [
    ConvSpec("conv1d", "1x2x7", "3x2x4", padding="SAME", data_format="NCW"),
    ConvSpec("conv2d", "1x2x6x5", "4x2x3x3", strides=2, padding="SAME", data_format="NCHW", kernel_layout="OIHW"),
    ConvSpec("conv3d", "1x2x4x4x3", "2x2x2x2x3", padding="VALID", data_format="NCDHW"),
    ConvSpec("depthwise_conv2d", "1x2x5x5", "3x3x2x2", padding="1:0,0:2", data_format="NCHW"),
    ConvSpec("conv1d_transpose", "1x2x4", "3x3x2", strides=2, padding="SAME", data_format="NCW"),
    ConvSpec("conv2d_transpose", "1x2x4x4", "3x3x3x2", strides=2, padding="SAME", data_format="NCHW"),
    ConvSpec("conv3d_transpose", "1x2x3x3x3", "2x2x2x3x2", strides=2, padding="SAME", data_format="NCDHW"),
]


def _moved(backend: str, spec, onednn: bool) -> bool:
    from symconv.backends.keras_backend import CHANNELS_LAST_ONLY_WITHOUT_ONEDNN
    if onednn or backend == "tf-xla":
        return False
    return backend == "tf" or spec.op in CHANNELS_LAST_ONLY_WITHOUT_ONEDNN


@pytest.mark.parametrize("onednn", [False, True], ids=["onednn-off", "onednn-on"])
@pytest.mark.parametrize("backend", ["tf", "tf-xla", "keras"])
def test_tensorflow_checks_channels_first_with_onednn_off_and_on(backend, onednn, request, backend_worker):
    from symconv.backends import Variant, open_runner
    need_backend(request.config, backend)
    variant = Variant(onednn=onednn)
    with open_runner(backend, variant=variant, grad_path="both", worker=backend_worker(variant)) as runner:
        in_effect = runner.facts().get("oneDNN")
        if in_effect != ("on" if onednn else "off"):
            pytest.skip(f"TensorFlow here runs with oneDNN {in_effect}, not as asked")
        for spec in CHANNELS_FIRST:
            report = symconv.check(spec, runner=runner)
            assert report.status == "ok", report.text()
            channels_last = DATA_FORMATS[spec.ndim][0]
            for result in report.results:
                moved = f"moved from {spec.data_format} to {channels_last}" in result.path
                assert moved == _moved(backend, spec, onednn), result.path
                if spec.kernel_layout == "OIHW":
                    assert "k moved from OIHW to HWIO by symconv" in result.path


def test_the_default_where_onednn_is_off_moves_channels_first_itself(request):
    """TensorFlow's default on an AVX2-only CPU (oneDNN off), forced here with TF_ENABLE_ONEDNN_OPTS=0:
    the default variant (no --onednn) checks an NCHW layer, moved to NHWC by symconv."""
    argv = ["check", "conv2d", "--input", "1x2x6x5", "--kernel", "4x2x3x3", "--kernel-layout", "OIHW", "--data-format",
            "NCHW", "--strides", "2", "--padding", "SAME", "--backend", "tf", "--grad-path", "both", "--json"]
    need_backend(request.config, "tf")
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0"}
    out = subprocess.run([sys.executable, "-m", "symconv", *argv], capture_output=True, text=True, env=env,
                         timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    answer = json.loads(out.stdout)
    assert answer["variant"]["onednn"] == "default"
    assert [r["status"] for r in answer["results"]] == ["ok"] * 5
    assert [r["path"].split(" by symconv: ")[0] for r in answer["results"]] == [
        "x moved from NCHW to NHWC and y back, k moved from OIHW to HWIO",
        "x and g moved from NCHW to NHWC, k moved from OIHW to HWIO",
        "x and g moved from NCHW to NHWC, k moved from OIHW to HWIO",
        "g moved from NCHW to NHWC and dx back, k moved from OIHW to HWIO",
        "g moved from NCHW to NHWC and dx back, k moved from OIHW to HWIO"]


def test_tensorflows_default_is_asked_of_tensorflow(monkeypatch, request):
    """Whether oneDNN is on by default is TensorFlow's answer for this environment, not a guess from
    the CPU's name: TF_ENABLE_ONEDNN_OPTS=0 turns it off on any CPU."""
    need_backend(request.config, "tf")
    from symconv.backends import tf_backend
    monkeypatch.setattr(tf_backend, "_ASKED", {})
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert tf_backend.onednn_default() is False
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "false")
    assert tf_backend.onednn_default() is False
    assert set(tf_backend._ASKED) == {"0", "false"}


def test_where_tensorflow_cannot_be_asked_channels_first_is_called_as_it_is(monkeypatch):
    """No guess: without TensorFlow's answer the op is called directly, and a refusal would be
    TensorFlow's own, reported as such."""
    from symconv.backends import Variant, tf_backend
    monkeypatch.setattr(tf_backend, "_ASKED", {})
    monkeypatch.setattr(tf_backend, "ASK_ONEDNN", "import sys; sys.exit(1)")
    assert tf_backend.onednn_default() is None
    spec = CHANNELS_FIRST[1]
    assert tf_backend.TFBackend().describe(spec, "forward", "op") == \
        "k moved from OIHW to HWIO by symconv: tf.nn.conv2d(padding='SAME')"
    assert tf_backend.TFBackend(Variant(onednn=False)).describe(spec, "forward", "op") == \
        "x moved from NCHW to NHWC and y back, k moved from OIHW to HWIO by symconv: tf.nn.conv2d(padding='SAME')"
