"""The ``litert`` backend: a ``tf.function`` converted by TensorFlow's converter and run by the
LiteRT interpreter (``ai-edge-litert``), as a trained layer is deployed to a phone.

The function is the ``tf`` backend's forward (tf.nn.conv2d etc.) in channels-last layouts, the only
ones LiteRT takes: a spec in another layout runs with its arrays moved there by symconv, and the
path says so.  The kernel is a constant of the converted model, as trained weights are (XNNPACK
delegates a convolution only when its weights are constant).  Converting per probe would cost
a conversion per call, so each spec is converted once with a kernel of distinct values 1..n, the
constant's bytes are found in the model (in whatever axis order the converter stored it), and
each call writes its kernel there before the interpreter is built: one conversion per spec, and the
interpreter sees exactly the probe's weights.  ``--xnnpack off`` runs the built-in kernels only.
LiteRT runs inference only: gradients are skipped, with that reason.  TensorFlow and LiteRT are
imported by ``load``, never at import.
"""

from __future__ import annotations

import itertools
import os
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ..model.spec import DATA_FORMATS
from .base import Unavailable
from .execution import BUILD_SECONDS, FORWARD_ONLY, ExecutionPath, Requirement
from .tf_backend import TENSORFLOW, TFBackend
from .variants import THREADS, VariantOption

XNNPACK = VariantOption("xnnpack", "XNNPACK", "LiteRT's XNNPACK delegate (default on, as the interpreter applies it)",
                        quiet_default=True)
INFERENCE_ONLY = "LiteRT runs inference only: it has no gradient to check"
MODELS_KEPT = 64
_LITERT = Requirement("ai-edge-litert", "ai_edge_litert", "1.2", "litert")
EXECUTION_PATHS = (
    ExecutionPath("litert-xnnpack", "litert", "converted", "LiteRT",
                  "tf.function -> tf.lite.TFLiteConverter -> LiteRT interpreter with XNNPACK (weights constant)",
                  FORWARD_ONLY, "none: a deployment runtime runs forward only", requires=(TENSORFLOW, _LITERT),
                  build_seconds=BUILD_SECONDS),
    ExecutionPath("litert-builtin", "litert", "converted", "LiteRT",
                  "tf.function -> tf.lite.TFLiteConverter -> LiteRT interpreter, built-in kernels only (no XNNPACK)",
                  FORWARD_ONLY, "none: a deployment runtime runs forward only", (("xnnpack", False),),
                  (TENSORFLOW, _LITERT), BUILD_SECONDS),
)


@dataclass(frozen=True)
class Converted:
    """A spec's converted model: its bytes, where the kernel's constant lies in them and in which
    axis order (None: the converter did not keep it whole; each call then converts anew)."""

    model: bytes
    offset: int | None
    axes: tuple | None


class LiteRTBackend(TFBackend):
    name = "litert"
    framework_modules = ("tensorflow", "ai_edge_litert")
    variant_options = (XNNPACK, THREADS)
    execution_paths = EXECUTION_PATHS
    documented_limits = ()

    def __init__(self, variant=None, grad_path="raw"):
        super().__init__(variant, grad_path)
        self.litert = None
        self._models = OrderedDict()

    def paths(self, spec, quantity):
        return ["interpreter" if quantity == "forward" else "none"]

    def skip_reason(self, spec, quantity, path):
        return None if quantity == "forward" else INFERENCE_ONLY

    def takes_data_format(self, spec) -> bool:
        return spec.data_format == DATA_FORMATS[spec.ndim][0]

    def onednn_in_effect(self):
        return None   # the converter traces the ops, it does not run them

    def describe(self, spec, quantity, path):
        if quantity != "forward":
            return f"no {quantity} in LiteRT"
        inner = self.plan(spec, "forward", "op").text
        kernels = "XNNPACK" if self.variant.get("xnnpack") is not False else "built-in kernels"
        return f"LiteRT interpreter ({kernels}) of TFLiteConverter({inner}, weights constant)"

    def load(self):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        super().load()
        from ai_edge_litert import interpreter
        self.litert = interpreter

    def run(self, spec, quantity, path, tensors):
        if self.litert is None:
            self.load()
        if quantity != "forward":
            raise Unavailable(INFERENCE_ONLY)
        if self.variant.device != "cpu":
            raise Unavailable("the LiteRT interpreter runs on the CPU")
        plan = self.plan(spec, quantity, "op")
        if plan.relaid is not None:
            return plan.relaid(quantity, tensors, lambda native, t: self.run(native, quantity, path, t))
        if plan.padded is not None:
            return plan.padded(quantity, tensors, lambda valid, t: self._invoke(valid, t, "VALID"))
        return self._invoke(spec, tensors, plan.padding)

    def _convert(self, spec, padding, kernel) -> bytes:
        tf = self.tf
        forward = self._forward(spec, padding)
        constant = tf.constant(kernel)
        function = tf.function(lambda x: forward(x, constant), autograph=False)
        concrete = function.get_concrete_function(tf.TensorSpec(spec.x_shape, tf.float32))
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], function)
        return converter.convert()

    def _converted(self, spec, padding) -> Converted:
        key = (spec, padding if isinstance(padding, str) else tuple(map(tuple, padding)))
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        marker = np.arange(1, np.prod(spec.k_shape) + 1, dtype=np.float32).reshape(spec.k_shape)
        model = self._convert(spec, padding, marker)
        offset, axes = None, None
        for order in itertools.permutations(range(marker.ndim)):
            found = model.find(np.ascontiguousarray(marker.transpose(order)).tobytes())
            if found >= 0:
                offset, axes = found, order
                break
        converted = self._models[key] = Converted(model, offset, axes)
        if len(self._models) > MODELS_KEPT:
            self._models.popitem(last=False)
        return converted

    def _invoke(self, spec, tensors, padding):
        kernel = np.asarray(tensors["k"], dtype=np.float32)
        converted = self._converted(spec, padding)
        if converted.offset is None:
            model = self._convert(spec, padding, kernel)
        else:
            data = np.ascontiguousarray(kernel.transpose(converted.axes)).tobytes()
            model = converted.model[:converted.offset] + data + converted.model[converted.offset + len(data):]
        resolver = self.litert.OpResolverType
        chosen = resolver.AUTO if self.variant.get("xnnpack") is not False else \
            resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        threads = {} if self.variant.threads is None else {"num_threads": self.variant.threads}
        interpreter = self.litert.Interpreter(model_content=model, experimental_op_resolver_type=chosen, **threads)
        interpreter.allocate_tensors()
        (given,) = interpreter.get_input_details()
        interpreter.set_tensor(given["index"], np.asarray(tensors["x"], dtype=np.float32))
        interpreter.invoke()
        (out,) = interpreter.get_output_details()
        return np.array(interpreter.get_tensor(out["index"]))

