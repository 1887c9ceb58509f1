"""port --deploy: the ported layer through the target framework's export and conversion paths,
each checked exactly against the model."""

from __future__ import annotations

import pytest

import symconv
from symconv.errors import SymconvError
from symconv.porting import deployment

from ..conftest import need_backend

LAYER = symconv.ConvSpec("conv2d", "1x5x6x2", "3x2x2x3", strides=(2, 1), padding="SAME")


def test_each_target_names_paths_that_are_registered():
    from symconv.backends.execution import registered_paths
    paths = registered_paths()
    for target, deployments in deployment.DEPLOYMENTS.items():
        for name, backend, options in deployments:
            assert paths[name].backend == backend and dict(paths[name].selects) == options, (target, name)


def test_a_port_to_onnx_is_verified_on_openvino_too(request):
    need_backend(request.config, "openvino")
    ported = symconv.port(LAYER, to="onnx", verify=False, deploy=True)
    assert [d.path for d in ported.deployed] == ["openvino-from-onnx"]
    assert ported.deployed[0].status == "ok", ported.deployed[0].text
    assert "# deployment openvino-from-onnx: every entry of y exactly the model's" in ported.text()
    assert ported.to_json()["deployments"][0]["status"] == "ok" and ported.exit_status == 0


def test_a_deployment_that_differs_fails_the_port(monkeypatch):
    wrong = deployment.Deployed("litert-xnnpack", "mismatch", "MISMATCH: 3 of 12 entries differ")
    monkeypatch.setattr(deployment, "verify_deployments", lambda spec, target, seed=0: [wrong])
    ported = symconv.port(LAYER, to="tf", source="torch", verify=False, deploy=True)
    assert ported.exit_status == 1 and "# deployment litert-xnnpack: MISMATCH" in ported.text()


def test_deploy_must_be_a_bool():
    with pytest.raises(SymconvError, match="deploy must be True or False, got 'yes'"):
        symconv.port(LAYER, to="torch", verify=False, deploy="yes")
