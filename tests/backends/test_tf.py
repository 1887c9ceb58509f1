"""TensorFlow beyond the sweep: the founding case today, paths and variants in reports, the GPU
variant (all three quantities, or skipped with the reason), and the 2017 bug as it survives in
3-D with oneDNN off."""

import pytest

from symconv import ConvSpec, check, explain, infer
from symconv.backends import Variant
from symconv.cli import main

from ..conftest import need_backend

FOUNDING = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")
FOUNDING_3D = ConvSpec("conv3d", "1x3x3x3x1", "1x1x1x1x1", strides=3, padding="SAME")
ON, OFF_ONE_THREAD = Variant(onednn=True), Variant(onednn=False, threads=1)


@pytest.fixture
def runner(runner):
    """runner(backend, variant, grad_path): the shared runner fixture, TensorFlow with oneDNN on
    by default."""
    def make(backend="tf", variant=ON, grad_path="raw"):
        return runner(backend, variant, grad_path)
    return make


def test_tensorflow_today_agrees_with_the_model_on_the_founding_case_along_both_paths(runner):
    report = check(FOUNDING, runner=runner(grad_path="both"))
    assert report.ok, report.text()
    assert [r.path for r in report.results] == [
        "tf.nn.conv2d(padding='SAME')",
        "tf.raw_ops.Conv2DBackpropFilter(padding='SAME')", "tf.GradientTape over tf.nn.conv2d(padding='SAME')",
        "tf.raw_ops.Conv2DBackpropInput(padding='SAME')", "tf.GradientTape over tf.nn.conv2d(padding='SAME')"]
    assert report.to_json()["variant"] == {"device": "cpu", "onednn": "on", "threads": "default"}
    assert infer(FOUNDING, runner=runner()).consistent


def test_the_legacy_reading_runs_on_tensorflow_through_an_input_cropped_by_symconv(runner):
    spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME", convention="legacy_eigen")
    story = explain(spec, x="1,2,3,4,5,6,7,8,0", k="10", g="100", runner=runner())
    forward = story.backend["results"][0]
    assert forward["values"] == [50] and forward["agrees"] is True
    assert forward["path"].startswith("x zero-padded (negative: cropped) by symconv to pads -1:-1,-1:-1")


def test_the_gpu_variant_checks_all_three_quantities(runner):
    """On a GPU every quantity must agree; without one, every quantity is skipped with the
    reason, and so is this test."""
    report = check(FOUNDING, runner=runner(variant=Variant("gpu", onednn=True)))
    statuses = [(r.quantity, r.status, r.message) for r in report.results]
    if all(status == "skipped" for _, status, _ in statuses):
        assert {message for _, _, message in statuses} == {"no GPU visible to TensorFlow"}
        assert "nothing was checked" in report.text()
        assert report.status == "skipped" and report.exit_status == 3  # a CI gate does not pass on it
        pytest.skip("no GPU visible to TensorFlow: the GPU variant skips forward, filter_grad and input_grad")
    assert [(q, status) for q, status, _ in statuses] == [
        ("forward", "ok"), ("filter_grad", "ok"), ("input_grad", "ok")], report.text()


def test_one_thread_and_onednn_off_are_named_in_the_report(runner):
    report = check(FOUNDING, runner=runner(variant=OFF_ONE_THREAD))
    assert report.ok
    assert report.to_json()["variant"] == {"device": "cpu", "onednn": "off", "threads": 1}


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="conv3d-NDHWC SAME, input 1x3x3x3x1, kernel 1x1x1x1x1, stride 3, oneDNN off: tf.nn.conv3d "
                          "reads x[0,1,1,1,0] (Eigen's unclamped pads -1) while Conv3DBackpropFilterV2 reads "
                          "x[0,0,0,0,0]: the 2017 founding bug, still in TensorFlow 2.21's 3-D CPU kernel")
def test_forward_and_gradients_of_conv3d_agree_on_the_pixel_with_onednn_off(runner):
    report = infer(FOUNDING_3D, runner=runner(variant=OFF_ONE_THREAD))
    assert report.quantities["filter_grad"].pads == [[0, 0]] * 3  # the gradient clamps, as the model does
    assert report.quantities["forward"].pads == [[0, 0]] * 3
    assert report.consistent


def test_the_3d_founding_bug_is_localised_by_check(runner):
    report = check(FOUNDING_3D, runner=runner(variant=OFF_ONE_THREAD))
    forward = report.results[0]
    assert forward.mismatches[0].sentence() == ("forward y[0,0,0,0,0]: the backend multiplies k[0,0,0,0,0] by "
                                                "x[0,1,1,1,0]; the model pairs it with x[0,0,0,0,0]")
    assert forward.implied_pads == [[-1, -1]] * 3
    assert [r.status for r in report.results] == ["mismatch", "ok", "ok"]


def test_check_on_the_command_line_runs_tensorflow_in_a_child_and_exits_one_on_a_finding(request, capsys):
    need_backend(request.config, "tf")
    args = ["conv3d", "--input", "1x3x3x3x1", "--kernel", "1x1x1x1x1", "--strides", "3", "--padding", "SAME"]
    assert main(["check", *args, "--backend", "tf", "--onednn", "off", "--threads", "1"]) == 1
    assert "implied pads -1:-1,-1:-1,-1:-1; the model's pads 0:0,0:0,0:0" in capsys.readouterr().out


@pytest.mark.parametrize("backend,forward", [
    ("tf-xla", "tf.function(jit_compile=True): tf.nn.conv2d(padding='SAME')"),
    ("keras", "keras.layers.Conv2D(padding='same')"),
])
def test_xla_and_keras_name_their_paths(backend, forward, runner):
    report = check(FOUNDING, runner=runner(backend))
    assert report.ok, report.text()
    assert report.results[0].path == forward


def test_a_onednn_setting_tensorflow_does_not_run_with_is_not_checked_and_says_why(request):
    """A variant that asks for oneDNN on (or off) where TensorFlow runs with it the other way (a
    build without oneDNN, say) checks nothing and says why, instead of reporting oneDNN's results
    that never ran.  Emulated in a process whose TensorFlow started with its own default, running
    a backend that asks for the other setting in that same process."""
    import json
    import subprocess
    import sys
    need_backend(request.config, "tf")
    code = ("import json\n"
            "from symconv import ConvSpec, check\n"
            "from symconv.backends import Variant, create\n"
            "from symconv.backends.runner import LocalRunner\n"
            "probe = create('tf'); probe.load()\n"
            "backend = create('tf', variant=Variant(onednn=not probe.onednn))\n"
            "report = check(ConvSpec('conv2d', '1x2x6x5', '3x3x2x4', data_format='NCHW', padding='SAME'),\n"
            "               runner=LocalRunner(backend))\n"
            "print(json.dumps({'actual': probe.onednn, 'status': report.status, 'exit': report.exit_status,\n"
            "                  'messages': sorted({r.message for r in report.results})}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    actual, asked = ("on", "off") if answer["actual"] else ("off", "on")
    assert answer["status"] == "skipped" and answer["exit"] == 3
    assert answer["messages"] == [f"oneDNN was asked {asked} (TF_ENABLE_ONEDNN_OPTS={int(asked == 'on')}), but this "
                                  f"TensorFlow runs with it {actual} (IsMklEnabled() is {answer['actual']})"]
