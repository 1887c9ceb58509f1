"""The ``openvino`` backend: OpenVINO's CPU plugin running the convolution from the same ONNX
graph as the ``onnxruntime`` backend (``--openvino-from onnx``, the default) or converted from the
``torch`` backend's PyTorch module (``--openvino-from torch``: ov.convert_model).

OpenVINO's CPU plugin computes in bfloat16 by default on CPUs that have it (AVX512_BF16, AMX):
probe values are exact in float32, not in bfloat16, so every model is compiled with
``INFERENCE_PRECISION_HINT`` f32, and the path says so.  Each spec is converted and compiled once.
OpenVINO runs inference only: gradients are skipped, with that reason.  OpenVINO is imported by
``load``, never at import.
"""

from __future__ import annotations

import collections
import warnings

import numpy as np

from ..model import layout
from . import onnx_graphs
from .base import Backend, Unavailable
from .execution import BUILD_SECONDS, FORWARD_ONLY, ExecutionPath, Requirement
from .onnx_backend import direct_model, direct_plan
from .variants import THREADS, VariantOption

OPENVINO_FROM = VariantOption("openvino_from", "OpenVINO from", "what OpenVINO converts: onnx (the ONNX node the "
                              "onnxruntime backend runs, the default) or torch (the PyTorch module)", kind="choice",
                              choices=("onnx", "torch"), quiet_default=True)
INFERENCE_ONLY = "OpenVINO runs inference only: it has no gradient to check"
COMPILED_KEPT = 64
_OPENVINO = Requirement("openvino", "openvino", "2024.0", "openvino")
RUNTIME = "none: a deployment runtime runs forward only"
EXECUTION_PATHS = (
    ExecutionPath("openvino-from-onnx", "openvino", "runtime", "OpenVINO",
                  "the ONNX Conv/ConvTranspose node read by OpenVINO, compiled for the CPU plugin in f32",
                  FORWARD_ONLY, RUNTIME, requires=(_OPENVINO, Requirement("onnx", "onnx", "1.14", "onnx")),
                  build_seconds=BUILD_SECONDS),
    ExecutionPath("openvino-from-torch", "openvino", "converted", "OpenVINO",
                  "ov.convert_model of the PyTorch module calling torch.nn.functional.conv*d, compiled for the CPU "
                  "plugin in f32", FORWARD_ONLY, RUNTIME, (("openvino_from", "torch"),),
                  (_OPENVINO, Requirement("torch", "torch", "2.1", "torch")), BUILD_SECONDS),
)


class OpenVINOBackend(Backend):
    name = "openvino"
    has_variant = True
    framework_modules = ("openvino",)
    variant_options = (OPENVINO_FROM, THREADS)
    execution_paths = EXECUTION_PATHS

    def __init__(self, variant=None, grad_path="raw"):
        super().__init__(variant, grad_path)
        self.ov = None
        self.core = None
        self._compiled = collections.OrderedDict()
        if self.source == "torch":
            self.framework_modules = ("openvino", "torch")

    @property
    def source(self) -> str:
        return self.variant.get("openvino_from") or "onnx"

    def paths(self, spec, quantity):
        return ["inference" if quantity == "forward" else "none"]

    def skip_reason(self, spec, quantity, path):
        return None if quantity == "forward" else INFERENCE_ONLY

    def _padded(self, spec):
        if self.source == "torch":
            return onnx_graphs.torch_plan(spec).padded
        return direct_plan(spec).padded

    def describe(self, spec, quantity, path):
        if quantity != "forward":
            return f"no {quantity} in OpenVINO"
        padded = self._padded(spec)
        if padded is not None:
            inner = self.describe(padded.valid, quantity, path) if padded.valid is not None else "nothing"
            return f"{padded.note()}: {inner}"
        device = "GPU" if self.variant.device == "gpu" else "CPU"
        if self.source == "torch":
            made = f"ov.convert_model of {onnx_graphs.torch_plan(spec).text}"
        else:
            made = f"OpenVINO read_model of {direct_plan(spec).text.replace('onnxruntime ', 'ONNX ', 1)}"
        return f"{made}, compiled for {device} with INFERENCE_PRECISION_HINT f32"

    def load(self):
        import openvino as ov
        self.ov = ov
        self.core = ov.Core()

    def run(self, spec, quantity, path, tensors):
        if self.ov is None:
            self.load()
        if quantity != "forward":
            raise Unavailable(INFERENCE_ONLY)
        device = "GPU" if self.variant.device == "gpu" else "CPU"
        if device not in self.core.available_devices:
            raise Unavailable(f"OpenVINO has no {device} device here")
        padded = self._padded(spec)
        if padded is not None:
            return padded(quantity, tensors, lambda valid, t: self._call(valid, t, device))
        return self._call(spec, tensors, device)

    def _compile(self, spec, device):
        key = (spec, device)
        if key in self._compiled:
            self._compiled.move_to_end(key)
            return self._compiled[key]
        if self.source == "torch":
            model = self._from_torch(spec)
        else:
            import onnx
            model = self.core.read_model(direct_model(onnx, spec), b"")
        config = {"INFERENCE_PRECISION_HINT": "f32"}
        if self.variant.threads is not None:
            config["INFERENCE_NUM_THREADS"] = self.variant.threads
        compiled = self._compiled[key] = self.core.compile_model(model, device, config)
        if len(self._compiled) > COMPILED_KEPT:
            self._compiled.popitem(last=False)
        return compiled

    def _from_torch(self, spec):
        helper = onnx_graphs._helper("torch")
        torch = helper.torch
        forward = helper._forward(spec, helper.plan(spec, "forward", "op"))

        class Layer(torch.nn.Module):
            def forward(self, x, k):
                return forward(x, k)
        shapes = [list(layout.array_to_canonical(spec, n, np.zeros(spec.shape_of(n), np.int8)).shape) for n in "xk"]
        example = tuple(torch.zeros(shape) for shape in shapes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.ov.convert_model(Layer(), example_input=example, input=shapes)

    def _call(self, spec, tensors, device):
        compiled = self._compile(spec, device)
        feed = [np.ascontiguousarray(layout.array_to_canonical(spec, n, tensors[n]), dtype=np.float32) for n in "xk"]
        out = compiled(feed)[compiled.output(0)]
        return layout.array_from_canonical(spec, "y", np.asarray(out))
