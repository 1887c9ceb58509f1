"""The ``onnxruntime`` backend: one ONNX Conv or ConvTranspose node, run by ONNX Runtime.

The node is built with onnx.helper for each spec (sessions cached per spec) and takes the
canonical layouts, which are ONNX's: X (N, C, spatial...), W (M, C/group, spatial...) for Conv
and (C, M/group, spatial...) for ConvTranspose (depthwise: group = C).  ONNX Runtime runs
inference only: filter and input gradients are reported as skipped, with that reason.

Padding, as ONNX can say it (the README's table): auto_pad SAME_UPPER is the ``tf``
convention, SAME_LOWER ``same_lower``, VALID no padding, NOTSET with ``pads`` any other
non-negative pads; negative pads (which ONNX does not allow) run as VALID on the input padded
or cropped by symconv.  ConvTranspose is given ``output_shape`` under SAME_UPPER/SAME_LOWER and
``output_padding`` otherwise.  ONNX Runtime is imported by ``load``, never at import.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np

from ..model import conventions, layout
from ..model.conventions import effective_kernel
from .base import Backend, PaddedRun, Unavailable
from .variants import THREADS, VariantOption

GRAPH_OPTIMIZATION = VariantOption("graph_optimization", "graph optimizations",
                                   "ONNX Runtime's graph optimizations (default: all)")
OPSET = 17
SESSIONS_KEPT = 64
INFERENCE_ONLY = "ONNX Runtime runs inference only: it has no gradient to check"


@dataclass(frozen=True)
class Plan:
    """The node's attributes, or ``padded`` when symconv pads the direct input itself."""

    attributes: tuple
    padded: PaddedRun | None
    text: str


# ONNX's own SAME modes and the convention each one is (onnx/defs/nn/defs.cc, Conv auto_pad).
NATIVE_SAME = (("SAME_UPPER", "tf"), ("SAME_LOWER", "same_lower"))


def native_same(spec):
    """The auto_pad that computes the spec's SAME natively, or None."""
    if spec.padding != "SAME":
        return None
    return next((mode for mode, rule in NATIVE_SAME if conventions.runs_as(spec.convention, rule)), None)


def node_attributes(spec):
    """The Conv/ConvTranspose attributes that say the spec's padding, or None when ONNX
    cannot (negative pads)."""
    attrs = {"kernel_shape": list(spec.kernel_spatial), "strides": list(spec.strides),
             "dilations": list(spec.dilations), "group": spec.conv_groups}
    same = native_same(spec)
    if same is not None:
        attrs["auto_pad"] = same
        if spec.transposed:
            attrs["output_shape"] = list(spec.direct_input_spatial)
        return attrs
    if any(b < 0 or a < 0 for b, a in spec.pads):
        return None
    if spec.padding == "VALID":
        attrs["auto_pad"] = "VALID"
    else:
        attrs["pads"] = [b for b, _ in spec.pads] + [a for _, a in spec.pads]
    if spec.transposed:
        attrs["output_padding"] = [
            (size + b + a - effective_kernel(k, d)) % s
            for size, (b, a), k, s, d in zip(spec.direct_input_spatial, spec.pads, spec.kernel_spatial, spec.strides,
                                             spec.dilations)]
    return attrs


def _attribute_text(attrs: dict) -> str:
    shown = []
    for name in ("auto_pad", "pads", "output_shape", "output_padding", "group"):
        if name not in attrs or (name == "group" and attrs[name] == 1) or \
                (name == "output_padding" and not any(attrs[name])):
            continue
        value = attrs[name]
        shown.append(f"{name}='{value}'" if isinstance(value, str) else f"{name}={value}")
    return ", ".join(shown) or "pads=0"


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    has_variant = True
    framework_modules = ("onnxruntime", "onnx")
    variant_options = (GRAPH_OPTIMIZATION, THREADS)

    def __init__(self, variant=None, grad_path="raw"):
        super().__init__(variant, grad_path)
        self.ort = None
        self.onnx = None
        self._providers = None
        self._sessions = collections.OrderedDict()

    def paths(self, spec, quantity):
        return ["inference" if quantity == "forward" else "none"]

    def skip_reason(self, spec, quantity, path):
        return None if quantity == "forward" else INFERENCE_ONLY

    def plan(self, spec) -> Plan:
        attrs = node_attributes(spec)
        padded = None
        if attrs is None:
            padded = PaddedRun(spec)
            attrs = node_attributes(padded.valid) if padded.valid is not None else {}
        op = "ConvTranspose" if spec.transposed else "Conv"
        text = f"onnxruntime {op}({_attribute_text(attrs)})"
        if padded is not None:
            text = f"{padded.note()}: {text}"
        return Plan(tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in attrs.items())),
                    padded, text)

    def describe(self, spec, quantity, path):
        if quantity != "forward":
            return f"no {quantity} in ONNX Runtime"
        return self.plan(spec).text

    def load(self):
        import onnx
        import onnxruntime as ort
        ort.set_default_logger_severity(4)  # a refused case is reported by its exception, not logged too
        self.onnx, self.ort = onnx, ort
        wanted = "CUDAExecutionProvider" if self.variant.device == "gpu" else "CPUExecutionProvider"
        self._providers = [wanted] if wanted in ort.get_available_providers() else None

    def run(self, spec, quantity, path, tensors):
        if self.ort is None:
            self.load()
        if quantity != "forward":
            raise Unavailable(INFERENCE_ONLY)
        if self._providers is None:
            raise Unavailable("this ONNX Runtime build has no CUDAExecutionProvider")
        plan = self.plan(spec)
        if plan.padded is not None:
            return plan.padded(quantity, tensors, lambda valid, t: self._call(valid, t))
        return self._call(spec, tensors)

    def _session(self, spec):
        key = spec
        if key in self._sessions:
            self._sessions.move_to_end(key)
            return self._sessions[key]
        onnx, ort = self.onnx, self.ort
        helper, FLOAT = onnx.helper, onnx.TensorProto.FLOAT
        attrs = node_attributes(spec)
        op = "ConvTranspose" if spec.transposed else "Conv"
        x_shape = layout.array_to_canonical(spec, "x", np.zeros(spec.x_shape, np.int8)).shape
        k_shape = layout.array_to_canonical(spec, "k", np.zeros(spec.k_shape, np.int8)).shape
        graph = helper.make_graph(
            [helper.make_node(op, ["x", "k"], ["y"], **attrs)], "symconv",
            [helper.make_tensor_value_info("x", FLOAT, list(x_shape)),
             helper.make_tensor_value_info("k", FLOAT, list(k_shape))],
            [helper.make_tensor_value_info("y", FLOAT, None)])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if self.variant.threads is not None:
            options.intra_op_num_threads = self.variant.threads
        optimize = self.variant.get("graph_optimization")
        if optimize is not None:
            level = ort.GraphOptimizationLevel
            options.graph_optimization_level = level.ORT_ENABLE_ALL if optimize else level.ORT_DISABLE_ALL
        session = ort.InferenceSession(model.SerializeToString(), options, providers=self._providers)
        self._sessions[key] = session
        if len(self._sessions) > SESSIONS_KEPT:
            self._sessions.popitem(last=False)
        return session

    def _call(self, spec, tensors):
        session = self._session(spec)
        feed = {name: np.ascontiguousarray(layout.array_to_canonical(spec, name, tensors[name]), dtype=np.float32)
                for name in ("x", "k")}
        (out,) = session.run(["y"], feed)
        return layout.array_from_canonical(spec, "y", out)
