"""Deployment targets a port can verify: after the layer is written for the target framework,
the same convolution (in the target's layouts) runs through that framework's export, conversion
or compilation paths (``symconv.backends.execution``) and each output is checked exactly against
symconv's model, as ``symconv check`` does.

>>> [name for name, _, _ in DEPLOYMENTS["torch"]]
['torch-compile-inductor', 'onnxruntime-from-torch', 'openvino-from-torch']
"""

from __future__ import annotations

from dataclasses import dataclass

# target framework -> (execution path, backend, variant options) a layer written for it may take
# to production.
DEPLOYMENTS = {
    "tf": [("litert-xnnpack", "litert", {}), ("onnxruntime-from-tf", "onnxruntime", {"onnx_from": "tf"})],
    "torch": [("torch-compile-inductor", "torch", {"compile": "inductor"}),
              ("onnxruntime-from-torch", "onnxruntime", {"onnx_from": "torch"}),
              ("openvino-from-torch", "openvino", {"openvino_from": "torch"})],
    "onnx": [("openvino-from-onnx", "openvino", {})],
    "jax": [("jax-jit", "jax", {})],
}
# A Keras layer travels TensorFlow's roads, and runs on Keras's other backends as it is.
DEPLOYMENTS["keras"] = DEPLOYMENTS["tf"] + [("keras-jax", "keras", {"keras_backend": "jax"}),
                                            ("keras-torch", "keras", {"keras_backend": "torch"})]


@dataclass
class Deployed:
    """One deployment path's verdict on the ported layer: ok (every output entry exactly the
    model's), mismatch or error (the path gets it wrong), refused, or not run (why)."""

    path: str
    status: str
    text: str

    def as_json(self) -> dict:
        return {"path": self.path, "status": self.status, "text": self.text}


def verify_deployments(spec, target: str, seed: int = 0) -> list:
    """The layer ``spec`` (already in the target framework's layouts) through every deployment
    path of ``target`` whose framework is installed here."""
    from ..backends import Variant
    from ..backends.execution import execution_of
    from ..checks.verdicts import check
    from ..errors import SymconvError
    out = []
    for name, backend, options in DEPLOYMENTS[target]:
        variant = Variant(**options)
        path = execution_of(backend, variant)
        problems = path.problems() if path is not None else ["not registered"]
        if problems:
            out.append(Deployed(name, "not run", f"not run: {'; '.join(problems)}"))
            continue
        try:
            report = check(spec, backend, variant=variant, quantities=["forward"], seed=seed, isolate=True,
                           progress=False)
        except SymconvError as err:
            out.append(Deployed(name, "not run", f"not run: {err}"))
            continue
        (result,) = [r for r in report.results if r.quantity == "forward"]
        if result.status == "ok":
            text = f"every entry of y exactly the model's ({result.path})"
        elif result.status == "unsupported":
            text = f"refused: {result.message}"
        else:
            text = f"{result.status.upper()}: {result.message} ({result.path})"
        out.append(Deployed(name, {"unsupported": "refused"}.get(result.status, result.status), text))
    return out


def deployment_lines(deployed: list) -> list:
    return [f"deployment {d.path}: {d.text}" for d in deployed]
