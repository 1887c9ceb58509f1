"""symconv port: the equivalent layer written for another framework, and verified by running both."""

import subprocess
import sys

import pytest

import symconv
from symconv import ConvSpec, SymconvError
from symconv.porting import FRAMEWORKS, running

from ..conftest import need_backend

STEM = ConvSpec("conv2d", "1x224x224x3", "7x7x3x64", strides=2, padding="SAME")


def test_tensorflow_same_becomes_an_asymmetric_pad_and_the_kernel_is_permuted():
    ported = symconv.port(STEM, to="torch", verify=False)
    code = ported.code
    assert "torch.as_tensor(k).permute(3, 2, 0, 1)" in code            # HWIO -> OIHW
    assert "torch.as_tensor(x).permute(0, 3, 1, 2)" in code            # NHWC -> NCHW
    assert "x = F.pad(x, (2, 3, 2, 3))" in code and "return F.conv2d(x, weight, stride=2)" in code
    assert ported.verified is None and "not verified" in repr(ported)
    assert ported.to_json()["code"] == code


@pytest.mark.parametrize("to,wanted", [
    ("jax", "padding='SAME'"),     # JAX's own SAME is TensorFlow's
    ("onnx", "pads=[2, 2, 3, 3]"),
])
def test_other_targets_say_the_same_pads(to, wanted):
    assert wanted in symconv.port(STEM, to=to, verify=False).code


def test_a_transposed_convolution_gets_its_padding_or_a_crop():
    spec = ConvSpec("conv2d_transpose", "1x3x3x2", "4x4x4x2", strides=2, padding="SAME")
    code = symconv.port(spec, to="torch", verify=False).code
    assert "return F.conv_transpose2d(x, weight, stride=2, padding=1)" in code
    assert "torch.as_tensor(k).permute(3, 2, 0, 1)" in code            # HWOI -> IOHW
    odd = ConvSpec("conv2d_transpose", "1x3x3x2", "3x3x4x2", strides=2, padding="SAME")   # pads 0:1
    code = symconv.port(odd, to="torch", verify=False).code
    assert "y = F.conv_transpose2d(x, weight, stride=2)" in code and "return F.pad(y, (0, -1, 0, -1))" in code


def test_from_pytorch_to_tensorflow_the_padding_is_said_as_tensorflow_can():
    spec = ConvSpec("conv2d", "1x2x6x6", "3x2x3x3", padding="1:1,1:1", data_format="NCHW", kernel_layout="OIHW")
    code = symconv.port(spec, to="tf", source="torch", verify=False).code
    assert "tf.transpose(tf.constant(k), (2, 3, 1, 0))" in code          # OIHW -> HWIO
    assert "x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])" in code and "padding='VALID'" in code


def _runs(request, *backends):
    for name in backends:
        need_backend(request.config, name)


def test_verification_runs_both_and_compares_every_entry(request):
    _runs(request, "torch", "jax")
    spec = ConvSpec("conv2d", "1x2x7x6", "4x2x3x3", strides=2, padding="SAME", data_format="NCHW",
                    kernel_layout="OIHW", convention="same_lower")
    ported = symconv.port(spec, to="jax", source="torch")
    assert ported.verified is True, ported.verification
    assert ported.verification.startswith("verified: PyTorch") and "all 48 entries of y" in ported.verification
    assert ported.exit_status == 0


def test_verification_sees_a_wrong_port(request):
    _runs(request, "torch", "jax")
    spec = ConvSpec("conv2d", "1x1x8x8", "1x1x3x3", strides=2, padding="SAME", data_format="NCHW",
                    kernel_layout="OIHW")
    ported = symconv.port(spec, to="torch", source="jax", verify=False)
    assert "x = F.pad(x, (0, 1, 0, 1))" in ported.code
    ported.code = ported.code.replace("F.pad(x, (0, 1, 0, 1))", "F.pad(x, (1, 0, 1, 0))")   # PyTorch users' habit
    running.run_both(ported, FRAMEWORKS["jax"], FRAMEWORKS["torch"])
    assert ported.verified is False and ported.exit_status == 1
    assert ported.verification.startswith("NOT verified: JAX") and "differ" in ported.verification


def test_bad_requests_are_one_error():
    with pytest.raises(SymconvError, match="to must be one of tf, torch, jax, onnx, keras, got 'caffe'"):
        symconv.port(STEM, to="caffe")
    with pytest.raises(SymconvError, match="from and to must be two frameworks, got tf twice"):
        symconv.port(STEM, to="tf")
    with pytest.raises(SymconvError, match="lax.conv_transpose has no feature_group_count"):
        symconv.port(ConvSpec("conv2d_transpose", "1x3x3x2", "3x3x2x2", groups=2), to="jax", verify=False)


def test_the_command_prints_runnable_code_and_refuses_bad_usage():
    argv = [sys.executable, "-m", "symconv", "port", "conv1d", "--input", "1x2x9", "--kernel", "4x2x3", "--strides", "2",
            "--padding", "SAME", "--from", "torch", "--to", "jax", "--no-verify"]
    out = subprocess.run(argv, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "dimension_numbers=('NCW', 'OIW', 'NCW')" in out.stdout and "padding='SAME'" in out.stdout
    compile(out.stdout, "<port>", "exec")
    bad = subprocess.run(argv[:-3] + ["--to", "mxnet"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "to must be one of" in bad.stderr


def test_shapes_in_the_wrong_layout_for_from_say_which_layouts_were_read(capsys):
    from symconv.cli import main
    args = ["port", "conv2d", "--input", "1x8x8x3", "--kernel", "3x3x3x4", "--to", "tf", "--no-verify"]
    assert main([*args, "--from", "onnx"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "shapes are read in --from onnx's layouts: input NCHW, kernel OIHW" in err
    assert main([*args, "--from", "onnx", "--data-format", "NHWC", "--kernel-layout", "HWIO"]) == 0
    assert main([*args[:6], "--to", "torch", "--no-verify", "--from", "tf"]) == 0


# ---- modules, Keras, and the usual padding argument --------------------------------------------

def test_the_stem_as_a_torch_module_pads_explicitly_and_says_what_padding_3_would_do():
    ported = symconv.port(STEM, to="torch", form="module", verify=False)
    code = ported.code
    assert "conv = nn.Conv2d(3, 64, 7, stride=2, padding=0, bias=False)" in code
    assert "module = nn.Sequential(nn.ZeroPad2d((2, 3, 2, 3)), conv)" in code
    assert "conv.weight.copy_(kernel_from_tf(k))" in code and "def module_from_tf(k):" in code
    usual = ported.usual_padding
    assert usual.startswith("PyTorch's usual padding=3") and "would pad 3:3, 3:3 instead of 2:3, 2:3" in usual
    assert usual.endswith("every window would start one row up and one column to the left: the one-pixel shift")
    assert ported.to_json()["usual_padding"] == usual and ported.to_json()["as"] == "module"
    assert "# note: PyTorch's usual padding=3" in symconv.port(STEM, to="torch", verify=False).code   # functions too
    compile(code, "<module>", "exec")


def test_symmetric_torch_padding_becomes_explicit_keras_and_flax_layers():
    spec = ConvSpec("conv2d", "1x3x32x32", "8x3x7x7", strides=2, padding=((3, 3), (3, 3)), data_format="NCHW",
                    kernel_layout="torch")
    keras_code = symconv.port(spec, to="keras", source="torch", verify=False)
    assert keras_code.form == "module" and "keras.layers.ZeroPadding2D(((3, 3), (3, 3)))" in keras_code.code
    assert "keras.layers.Conv2D(8, kernel_size=(7, 7), strides=(2, 2), padding='valid', use_bias=False)" in \
        keras_code.code
    assert keras_code.usual_padding.startswith("Keras's usual padding='same' would pad 2:3, 2:3 instead of 3:3, 3:3")
    assert "one row down and one column to the right" in keras_code.usual_padding
    as_tf = symconv.port(spec, to="tf", source="torch", form="module", verify=False).code
    assert "written for TensorFlow (Keras layers)" in as_tf and "keras.layers.ZeroPadding2D" in as_tf
    flax = symconv.port(spec, to="jax", source="torch", form="module", verify=False).code
    assert "module = nn.Conv(8, kernel_size=(7, 7), strides=(2, 2), padding=((3, 3), (3, 3))," in flax
    assert 'return module, {"params": {"kernel": kernel_from_torch(k)}}' in flax
    for code in (keras_code.code, as_tf, flax):
        compile(code, "<module>", "exec")


def test_no_note_where_the_usual_argument_is_right_and_a_shape_note_where_it_changes_the_size():
    assert symconv.port(STEM, to="jax", verify=False).usual_padding == ""          # JAX's SAME is TensorFlow's
    even = ConvSpec("conv2d", "1x8x8x3", "4x4x3x2", padding="SAME")                 # pads 1:2
    note = symconv.port(even, to="torch", verify=False).usual_padding
    assert note.endswith("would pad 1:1, 1:1 instead of 1:2, 1:2: output shape 1x7x7x2, not 1x8x8x2")
    assert symconv.port(ConvSpec("conv2d", "1x8x8x3", "3x3x3x2"), to="torch", verify=False).usual_padding == ""


def test_keras_is_a_source_whose_same_is_tensorflows():
    ported = symconv.port(STEM, to="torch", source="keras", verify=False)
    assert "# SAME as Keras resolves it (Keras's 'same' is TensorFlow's rule): pads 2:3, 2:3" in ported.code
    assert "def kernel_from_keras(k):" in ported.code


def test_modules_are_verified_like_functions(request):
    """Each module form run on exact probes against the source framework: a torch module of a
    Keras layer, Keras layers of a cropping PyTorch layer, a Flax module of a transposed one."""
    _runs(request, "keras", "torch")
    ported = symconv.port(ConvSpec("depthwise_conv2d", "1x7x7x3", "3x3x3x2", strides=2, padding="SAME"),
                          to="torch", source="keras", form="module")
    assert ported.verified is True, ported.verification
    assert ported.verification.startswith("verified: Keras") and "PyTorch module above agree" in ported.verification
    crop = ConvSpec("conv2d", "1x3x8x8", "2x3x3x3", padding=((-1, 1), (2, -1)), data_format="NCHW",
                    kernel_layout="torch")
    ported = symconv.port(crop, to="keras", source="torch")
    assert ported.verified is True and "keras.layers.Cropping2D(((1, 0), (0, 1)))" in ported.code
    _runs(request, "jax")
    pytest.importorskip("flax")
    transposed = ConvSpec("conv1d_transpose", "1x4x3", "3x2x3", strides=2, padding=((-1, 2),))
    ported = symconv.port(transposed, to="jax", form="module")
    assert ported.verified is True and "nn.ConvTranspose(2, kernel_size=(3,), strides=(2,)" in ported.code


def test_forms_a_target_does_not_have_are_refused():
    with pytest.raises(SymconvError, match="as 'module' is not written for ONNX Runtime .* leave out --as"):
        symconv.port(STEM, to="onnx", form="module")
    with pytest.raises(SymconvError, match="as 'function' is not written for Keras .* --to tf for tf.nn functions"):
        symconv.port(STEM, to="keras", form="function")
    with pytest.raises(SymconvError, match="as must be one of function, module, got 'layer'"):
        symconv.port(STEM, to="torch", form="layer")
    with pytest.raises(SymconvError, match="from and to must be two frameworks, got keras twice"):
        symconv.port(STEM, to="keras", source="keras")


def test_the_command_writes_modules_and_reads_keras_shapes():
    argv = [sys.executable, "-m", "symconv", "port", "conv2d", "--input", "1x8x8x3", "--kernel", "3x3x3x4",
            "--strides", "2", "--padding", "SAME", "--from", "keras", "--to", "torch", "--as", "module", "--no-verify"]
    out = subprocess.run(argv, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "nn.Conv2d(3, 4, 3, stride=2, padding=0, bias=False)" in out.stdout
    assert "nn.ZeroPad2d((0, 1, 0, 1))" in out.stdout and "padding=1 (d*(k-1)//2" in out.stdout
    bad = subprocess.run(argv[:-4] + ["onnx", "--as", "module"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "is not written for ONNX Runtime" in bad.stderr
