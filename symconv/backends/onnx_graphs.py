"""ONNX graphs of one convolution, from each source a deployment takes them from: built by hand
with onnx.helper (``direct``), exported by PyTorch's exporter (``torch``: torch.onnx.export,
which needs onnxscript) or converted from TensorFlow by tf2onnx (``tf``).  ONNX Runtime and
OpenVINO run them.

Every graph takes two inputs, ``x`` and ``k``, and gives one output: the direct graph and
PyTorch's in the canonical layouts (ONNX's and PyTorch's own: X (N, C, spatial...), W as Conv or
ConvTranspose take it), TensorFlow's in the spec's data format with the kernel in TensorFlow's
layout (the converter inserts what transposes it needs).  ``Source.inputs`` and ``output`` move
the spec's arrays in and the result back.  The frameworks are imported when a graph is built.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np

from ..model import layout
from ..model.spec import ConvSpec
from .base import PaddedRun, Relaid

OPSET = 17
SOURCES = ("direct", "torch", "tf")


@dataclass
class Graph:
    """An ONNX model for one spec, what it was made by (in words), and how arrays reach it."""

    model: bytes
    text: str
    spec: ConvSpec            # the spec the graph computes (its layouts are the inputs')
    canonical: bool           # inputs in the canonical layouts (else the spec's, kernel in TensorFlow's)

    def inputs(self, tensors: dict) -> dict:
        names = ("x", "k")
        if self.canonical:
            return {n: np.ascontiguousarray(layout.array_to_canonical(self.spec, n, tensors[n]), dtype=np.float32)
                    for n in names}
        return {n: np.ascontiguousarray(tensors[n], dtype=np.float32) for n in names}

    def output(self, array) -> np.ndarray:
        array = np.asarray(array)
        return layout.array_from_canonical(self.spec, "y", array) if self.canonical else array


def source_note(source: str) -> str:
    return {"direct": "an ONNX node built by symconv", "torch": "torch.onnx.export (the dynamo exporter)",
            "tf": "tf2onnx.convert.from_function"}[source]


# ---- PyTorch's exporter ---------------------------------------------------------------------------

_HELPERS: dict = {}


def _helper(name: str, load: bool = True):
    """One framework backend object per process, used for its plans (framework-free) and ops
    (``load``: its framework imported)."""
    if name not in _HELPERS:
        if name == "torch":
            from .torch_backend import TorchBackend
            helper = TorchBackend()
        else:
            from .tf_backend import TFBackend

            class Traced(TFBackend):
                """TensorFlow's forward as traced for a converter: any data format (nothing runs)."""

                def takes_data_format(self, spec) -> bool:
                    return True
            helper = Traced()
        _HELPERS[name] = helper
    helper = _HELPERS[name]
    if load and getattr(helper, name if name == "torch" else "tf") is None:
        helper.load()
    return helper


def torch_plan(spec: ConvSpec):
    """PyTorch's plan for the forward (``plan.padded`` when symconv must pad the input)."""
    return _helper("torch", load=False).plan(spec, "forward", "op")


def from_torch(spec: ConvSpec, opset: int = OPSET) -> Graph:
    """The forward as PyTorch's exporter writes it (a spec PyTorch can say without symconv's
    padding: see ``torch_plan``)."""
    helper = _helper("torch")
    torch = helper.torch
    plan = helper.plan(spec, "forward", "op")
    forward = helper._forward(spec, plan)

    class Layer(torch.nn.Module):
        def forward(self, x, k):
            return forward(x, k)
    zero = {n: np.zeros(spec.shape_of(n), np.float32) for n in ("x", "k")}
    example = tuple(torch.from_numpy(np.ascontiguousarray(layout.array_to_canonical(spec, n, zero[n])))
                    for n in ("x", "k"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(Layer(), example, input_names=["x", "k"], output_names=["y"], dynamo=True,
                                    opset_version=max(opset, 18), verbose=False, report=False, optimize=True)
    return Graph(program.model_proto.SerializeToString(), f"torch.onnx.export of {plan.text}", spec, True)


# ---- tf2onnx -------------------------------------------------------------------------------------------

def tf_relaid(spec: ConvSpec):
    """The Relaid to TensorFlow's kernel layout (the data format stays), or None."""
    return Relaid.to_layouts(spec, kernel_layout="tf")


def tf_plan(spec: ConvSpec):
    return _helper("tf", load=False).plan(spec, "forward", "op")


def from_tf(spec: ConvSpec, opset: int = OPSET) -> Graph:
    """The forward as tf2onnx converts TensorFlow's tf.function (a spec already in TensorFlow's
    kernel layout, padding TensorFlow can say: see ``tf_plan``)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    helper = _helper("tf")
    tf = helper.tf
    import tf2onnx
    plan = helper.plan(spec, "forward", "op")
    forward = helper._forward(spec, plan.padding)
    function = tf.function(forward, autograph=False)
    signature = [tf.TensorSpec(spec.x_shape, tf.float32, name="x"), tf.TensorSpec(spec.k_shape, tf.float32, name="k")]
    with warnings.catch_warnings(), _quiet_tf2onnx():
        warnings.simplefilter("ignore")
        model, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=opset)
    return Graph(model.SerializeToString(), f"tf2onnx.convert.from_function of {plan.text}", spec, False)


class _quiet_tf2onnx:
    """tf2onnx logs each conversion at INFO: kept to errors."""

    def __enter__(self):
        import logging
        self.logger = logging.getLogger("tf2onnx")
        self.level = self.logger.level
        self.logger.setLevel(logging.ERROR)

    def __exit__(self, *exc):
        self.logger.setLevel(self.level)


def padded_for(source: str, spec: ConvSpec) -> PaddedRun | None:
    """The PaddedRun a source needs for a spec (the exporter cannot say its padding), or None."""
    if source == "torch":
        return torch_plan(spec).padded
    if source == "tf":
        return tf_plan(spec).padded
    return None


def source_text(source: str, spec: ConvSpec) -> str:
    """How the graph of a spec is made, without building it (framework-free for ``direct``)."""
    if source == "torch":
        return f"torch.onnx.export of {torch_plan(spec).text}"
    if source == "tf":
        return f"tf2onnx.convert.from_function of {tf_plan(spec).text}"
    return ""

