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
    with pytest.raises(SymconvError, match="to must be one of tf, torch, jax, onnx, got 'caffe'"):
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
