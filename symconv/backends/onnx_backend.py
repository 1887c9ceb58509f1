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

``--onnx-from`` picks where the graph comes from (``symconv.backends.onnx_graphs``): ``direct``,
the node above (the default); ``torch``, PyTorch's exporter (torch.onnx.export) of the ``torch``
backend's call; ``tf``, tf2onnx's conversion of the ``tf`` backend's tf.function.  Each graph is
built once per spec and its session kept.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np

from ..model import conventions, layout
from ..model.conventions import effective_kernel
from . import onnx_graphs
from .base import Backend, PaddedRun, Unavailable
from .execution import BUILD_SECONDS, FORWARD_ONLY, ExecutionPath, Requirement
from .variants import THREADS, VariantOption

GRAPH_OPTIMIZATION = VariantOption("graph_optimization", "graph optimizations",
                                   "ONNX Runtime's graph optimizations (default: all)")
ONNX_FROM = VariantOption("onnx_from", "ONNX from", "where the ONNX graph comes from: direct (a node built by "
                          "symconv, the default), torch (PyTorch's exporter) or tf (tf2onnx)", kind="choice",
                          choices=onnx_graphs.SOURCES, quiet_default=True)
_ONNX = (Requirement("onnx", "onnx", "1.14", "onnx"), Requirement("onnxruntime", "onnxruntime", "1.16", "onnx"))
FROM_TORCH = (Requirement("torch", "torch", "2.5", "torch"),
              Requirement("onnxscript", "onnxscript", "0.2", "torch-onnx"))
FROM_TF = (Requirement("tensorflow", "tensorflow", "2.15", "tf-cpu"),
           Requirement("tf2onnx", "tf2onnx", "1.16", "tf2onnx"))
RUNTIME = "none: a deployment runtime runs forward only"
EXECUTION_PATHS = (
    ExecutionPath("onnxruntime-direct", "onnxruntime", "runtime", "ONNX Runtime",
                  "one ONNX Conv/ConvTranspose node built by symconv, run by ONNX Runtime", FORWARD_ONLY, RUNTIME,
                  requires=_ONNX),
    ExecutionPath("onnxruntime-from-torch", "onnxruntime", "exported", "ONNX Runtime",
                  "torch.onnx.export (dynamo exporter, onnxscript) of torch.nn.functional.conv*d, run by ONNX Runtime",
                  FORWARD_ONLY, RUNTIME, (("onnx_from", "torch"),), _ONNX + FROM_TORCH, BUILD_SECONDS),
    ExecutionPath("onnxruntime-from-tf", "onnxruntime", "converted", "ONNX Runtime",
                  "tf2onnx.convert.from_function of tf.nn.conv*d, run by ONNX Runtime", FORWARD_ONLY, RUNTIME,
                  (("onnx_from", "tf"),), _ONNX + FROM_TF, BUILD_SECONDS),
)
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
    variant_options = (GRAPH_OPTIMIZATION, ONNX_FROM, THREADS)
    execution_paths = EXECUTION_PATHS

    def __init__(self, variant=None, grad_path="raw"):
        super().__init__(variant, grad_path)
        self.ort = None
        self.onnx = None
        self._providers = None
        self._sessions = collections.OrderedDict()
        # An exception of the exporter's is the exporter refusing the case.
        self.framework_modules = type(self).framework_modules + self.source_modules

    def paths(self, spec, quantity):
        return ["inference" if quantity == "forward" else "none"]

    def skip_reason(self, spec, quantity, path):
        return None if quantity == "forward" else INFERENCE_ONLY

    def plan(self, spec) -> Plan:
        return direct_plan(spec)

    @property
    def source(self) -> str:
        return self.variant.get("onnx_from") or "direct"

    @property
    def source_modules(self) -> tuple:
        """The exporter's modules: an exception of theirs is the exporter refusing the case."""
        return {"direct": (), "torch": ("torch", "onnxscript", "onnx_ir"), "tf": ("tensorflow", "tf2onnx")}[self.source]

    def describe(self, spec, quantity, path):
        if quantity != "forward":
            return f"no {quantity} in ONNX Runtime"
        if self.source != "direct":
            return self.exported_text(spec, "onnxruntime")
        return self.plan(spec).text

    def exported_text(self, spec, runtime: str) -> str:
        padded = onnx_graphs.padded_for(self.source, spec)
        if self.source == "tf":
            relaid = onnx_graphs.tf_relaid(spec)
            if relaid is not None:
                return f"{relaid.note('forward')}: {self.exported_text(relaid.native, runtime)}"
        if padded is not None:
            inner = self.exported_text(padded.valid, runtime) if padded.valid is not None else "nothing"
            return f"{padded.note()}: {inner}"
        return f"{runtime} of {onnx_graphs.source_text(self.source, spec)}"

    def exported(self, spec, tensors, call):
        """Run ``call(graph, tensors)`` on the graph the source makes for ``spec``: the kernel
        moved to TensorFlow's layout for tf2onnx, the input padded by symconv where the exporter
        cannot say the padding."""
        if self.source == "tf":
            relaid = onnx_graphs.tf_relaid(spec)
            if relaid is not None:
                return relaid("forward", tensors, lambda native, t: self.exported(native, t, call))
        padded = onnx_graphs.padded_for(self.source, spec)
        if padded is not None:
            return padded("forward", tensors, lambda valid, t: self.exported(valid, t, call))
        return call(self.graph(spec), tensors)

    def graph(self, spec):
        """The source's ONNX graph for a spec, built once and kept."""
        key = ("graph", spec)
        if key not in self._sessions:
            build = onnx_graphs.from_torch if self.source == "torch" else onnx_graphs.from_tf
            self._sessions[key] = build(spec)
            if len(self._sessions) > SESSIONS_KEPT:
                self._sessions.popitem(last=False)
        return self._sessions[key]

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
        if self.source != "direct":
            return self.exported(spec, tensors, self._run_graph)
        plan = self.plan(spec)
        if plan.padded is not None:
            return plan.padded(quantity, tensors, lambda valid, t: self._call(valid, t))
        return self._call(spec, tensors)

    def _run_graph(self, graph, tensors):
        key = ("session", graph.model)
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions[key] = self.ort.InferenceSession(graph.model, self._options(),
                                                                      providers=self._providers)
        feed = graph.inputs(tensors)
        names = [i.name for i in session.get_inputs()]
        (out,) = session.run(None, {name: feed[name] for name in names})[:1]
        return graph.output(out)

    def _options(self):
        options = self.ort.SessionOptions()
        options.log_severity_level = 3
        if self.variant.threads is not None:
            options.intra_op_num_threads = self.variant.threads
        optimize = self.variant.get("graph_optimization")
        if optimize is not None:
            level = self.ort.GraphOptimizationLevel
            options.graph_optimization_level = level.ORT_ENABLE_ALL if optimize else level.ORT_DISABLE_ALL
        return options

    def _session(self, spec):
        key = spec
        if key in self._sessions:
            self._sessions.move_to_end(key)
            return self._sessions[key]
        model = direct_model(self.onnx, spec)
        session = self.ort.InferenceSession(model, self._options(), providers=self._providers)
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


def direct_plan(spec) -> Plan:
    """How the direct node runs a spec: its attributes, or symconv's padding first."""
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


def direct_model(onnx, spec) -> bytes:
    """The spec as one ONNX Conv or ConvTranspose node (inputs x and k in the canonical layouts),
    serialized."""
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
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8).SerializeToString()
