"""The ``torch`` backend: torch.nn.functional.conv1d/2d/3d and conv_transpose1d/2d/3d.

Tensors reach PyTorch as the spec's own arrays seen through ``layout.permutation``: a logical
(N, C, spatial...) tensor whose memory keeps the spec's layout (NHWC data is a channels-last
tensor), and a kernel (C_small, C_big // groups, spatial...), which is PyTorch's weight layout
for convolutions and transposed convolutions alike (depthwise: groups = channels).

Padding, as PyTorch can say it (the README's table):

* VALID: ``padding='valid'``;
* SAME under the ``tf`` convention with every stride 1: ``padding='same'`` (PyTorch puts the
  odd pixel after, as TensorFlow does; it refuses strides above 1);
* symmetric non-negative pads (the ``torch`` convention, ``padding=k//2`` written by hand):
  ``padding=(p, ...)``;
* other non-negative pads: ``F.pad`` on the input, then ``padding=0``;
* transposed convolutions: ``padding`` = the pads before, ``output_padding`` for the size;
* anything else (negative pads, an output_padding PyTorch refuses): VALID on the direct input
  padded or cropped by symconv.

Execution paths (``symconv.backends.execution``): the ops called eagerly (``torch-eager``);
``--compile inductor`` (or ``aot_eager``) runs the same function through ``torch.compile``
(``fullgraph=True``, static shapes), the gradients by autograd through the compiled graph (or
``convolution_backward`` compiled), one compiled function per spec, kept and reused by every
probe; ``--memory-format channels_last`` (or ``contiguous``) hands every tensor over in that
memory format, whatever the spec's layout.

The operators are called as ``torch.ops.aten.conv2d`` etc., which torch.nn.functional.conv2d
etc. bind to (see ``_forward``).  Gradients along two paths: ``autograd``
(torch.autograd.grad over the forward call, F.pad included) and ``raw``
(``torch.ops.aten.convolution_backward``, the op autograd calls, which takes symmetric integer
padding only).  PyTorch is imported by ``load``, never at import.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..model import conventions, layout
from ..model.conventions import effective_kernel
from ..model.quantities import INPUTS, SHAPED_LIKE
from .base import Backend, PaddedRun, Unavailable
from .execution import ALL_QUANTITIES, BUILD_SECONDS, ExecutionPath, Requirement
from .variants import THREADS, VariantOption

MKLDNN = VariantOption("mkldnn", "mkldnn", "torch.backends.mkldnn for PyTorch (default: on where available)")
DETERMINISTIC = VariantOption("deterministic", "deterministic algorithms",
                              "torch.use_deterministic_algorithms for PyTorch (default off)")
CUDNN_BENCHMARK = VariantOption("cudnn_benchmark", "cuDNN benchmark",
                                "torch.backends.cudnn.benchmark for PyTorch on a GPU (default off)")

COMPILE = VariantOption("compile", "torch.compile", "run PyTorch's calls through torch.compile with this backend "
                        "(default: eager)", kind="choice", choices=("inductor", "aot_eager"), quiet_default=True)
MEMORY_FORMAT = VariantOption("memory_format", "memory format", "hand PyTorch every tensor in this memory format "
                              "(default: the spec's own layout)", kind="choice",
                              choices=("channels_last", "contiguous"), quiet_default=True)

PLANS_KEPT = 4096
COMPILED_KEPT = 512
_TORCH = Requirement("torch", "torch", "2.1", "torch")
EXECUTION_PATHS = (
    ExecutionPath("torch-eager", "torch", "eager op", "PyTorch",
                  "torch.nn.functional.conv*d / conv_transpose*d called eagerly",
                  ALL_QUANTITIES, "torch.ops.aten.convolution_backward (raw) or torch.autograd (tape)",
                  requires=(_TORCH,)),
    ExecutionPath("torch-compile-inductor", "torch", "compiled", "PyTorch",
                  "torch.compile(backend='inductor', fullgraph=True, dynamic=False), compiled once per spec "
                  "(needs a C compiler)", ALL_QUANTITIES,
                  "autograd through the compiled graph (tape), or convolution_backward compiled (raw)",
                  (("compile", "inductor"),), (Requirement("torch", "torch", "2.1", "torch"),), BUILD_SECONDS),
    ExecutionPath("torch-compile-aot-eager", "torch", "compiled", "PyTorch",
                  "torch.compile(backend='aot_eager', fullgraph=True, dynamic=False): Dynamo and AOTAutograd "
                  "without code generation", ALL_QUANTITIES, "autograd through the traced graph",
                  (("compile", "aot_eager"),), (_TORCH,), BUILD_SECONDS),
    ExecutionPath("torch-channels-last", "torch", "eager op", "PyTorch",
                  "every tensor handed over as channels_last (channels_last_3d for 3-D convolutions)",
                  ALL_QUANTITIES, "as torch-eager", (("memory_format", "channels_last"),), (_TORCH,)),
    ExecutionPath("torch-contiguous", "torch", "eager op", "PyTorch",
                  "every tensor handed over contiguous (channels first in memory)",
                  ALL_QUANTITIES, "as torch-eager", (("memory_format", "contiguous"),), (_TORCH,)),
)


@dataclass(frozen=True)
class Plan:
    """How one (spec, quantity, path) runs: the op's ``padding`` and ``output_padding``,
    ``frame`` pads applied with F.pad first, or ``padded`` when symconv pads the direct input."""

    padding: object
    output_padding: tuple | None
    frame: tuple | None
    padded: PaddedRun | None
    text: str


def transposed_padding(spec):
    """(padding, output_padding) of conv_transpose that gives the spec, or None when PyTorch
    cannot say it (a negative pad before; output_padding outside 0 <= op < max(s, d))."""
    padding, extra = [], []
    for axis in range(spec.ndim):
        before = spec.pads[axis][0]
        s, d = spec.strides[axis], spec.dilations[axis]
        op = spec.direct_input_spatial[axis] - ((spec.direct_output_spatial[axis] - 1) * s - 2 * before
                                       + effective_kernel(spec.kernel_spatial[axis], d))
        if before < 0 or not 0 <= op < max(s, d):
            return None
        padding.append(before)
        extra.append(op)
    return tuple(padding), tuple(extra)


# padding='same' (stride 1 only) puts the odd pixel after, as TensorFlow's SAME does
# (torch/nn/modules/conv.py _conv_forward; F.conv*d in ATen's Convolution.cpp).
NATIVE_SAME = "tf"


def direct_padding(spec, raw: bool):
    """(padding, frame) for a direct convolution, or None when symconv must pad."""
    nd = spec.ndim
    if spec.padding == "VALID":
        return ((0,) * nd if raw else "valid"), None
    if not raw and spec.padding == "SAME" and conventions.runs_as(spec.convention, NATIVE_SAME) \
            and set(spec.strides) == {1}:
        return "same", None
    if any(b < 0 or a < 0 for b, a in spec.pads):
        return None
    if all(b == a for b, a in spec.pads):
        return tuple(b for b, _ in spec.pads), None
    if raw:
        return None
    return (0,) * nd, tuple(spec.pads)


def padding_text(padding) -> str:
    if isinstance(padding, str):
        return f"'{padding}'"
    return str(tuple(padding)) if len(padding) > 1 else str(padding[0])


class TorchBackend(Backend):
    name = "torch"
    has_variant = True
    framework_modules = ("torch",)
    variant_options = (MKLDNN, DETERMINISTIC, CUDNN_BENCHMARK, COMPILE, MEMORY_FORMAT, THREADS)
    child_environment = {"TORCH_CPP_LOG_LEVEL": "ERROR"}
    execution_paths = EXECUTION_PATHS

    def __init__(self, variant=None, grad_path="raw"):
        super().__init__(variant, grad_path)
        self.torch = None
        self._device = None
        self._plans = {}
        self._compiled = {}

    # ---- framework-free: which call, which padding -------------------------------------
    def paths(self, spec, quantity):
        if quantity == "forward":
            return ["op"]
        return {"raw": ["raw"], "tape": ["autograd"], "both": ["raw", "autograd"]}[self.grad_path]

    def op_name(self, spec) -> str:
        op = "conv_transpose" if spec.transposed else "conv"
        return f"torch.nn.functional.{op}{spec.ndim}d"

    def plan(self, spec, quantity, path) -> Plan:
        key = (spec, quantity, path)
        if key not in self._plans:
            if len(self._plans) >= PLANS_KEPT:
                self._plans.clear()
            self._plans[key] = self._plan(spec, quantity, path)
        return self._plans[key]

    def _plan(self, spec, quantity, path) -> Plan:
        raw = quantity != "forward" and path == "raw"
        if spec.transposed:
            native = transposed_padding(spec)
            native = None if native is None else (native[0], native[1], None)
        else:
            native = direct_padding(spec, raw)
            native = None if native is None else (native[0], None, native[1])
        padded = None
        if native is None:
            padded = PaddedRun(spec)
            inner = self.plan(padded.valid, quantity, path) if padded.valid is not None else None
            native = (inner.padding, inner.output_padding, None) if inner is not None else ((0,) * spec.ndim, None, None)
        padding, output_padding, frame = native
        args = [f"padding={padding_text(padding)}"]
        if output_padding is not None and any(output_padding):
            args.append(f"output_padding={padding_text(output_padding)}")
        if spec.conv_groups != 1:
            args.append(f"groups={spec.conv_groups}")
        call = f"{self.op_name(spec)}({', '.join(args)})"
        if frame is not None:
            call = f"F.pad({layout_pairs(frame)}) then {call}"
        if raw:
            call = f"torch.ops.aten.convolution_backward of {call}"
        elif quantity != "forward":
            call = f"torch.autograd.grad over {call}"
        memory = self.variant.get("memory_format")
        call += f" on {memory or layout.letters(spec, 'x') + '-strided'} tensors"
        backend = self.variant.get("compile")
        if backend is not None:
            call = f"torch.compile(backend='{backend}'): {call}"
        if padded is not None:
            call = f"{padded.note()}: {call}"
        return Plan(padding, output_padding, frame, padded, call)

    def describe(self, spec, quantity, path):
        return self.plan(spec, quantity, path).text

    # ---- PyTorch -----------------------------------------------------------------------------
    def load(self):
        os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")  # warnings from C++ would bypass Python's
        import torch
        import torch.nn.functional  # noqa: F401
        if self.variant.threads is not None:
            torch.set_num_threads(self.variant.threads)
        # Probe values are exact in float32, not in TF32: keep every reduced-precision path off.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        self.torch = torch
        self._device = "cpu"
        if self.variant.device == "gpu":
            self._device = "cuda" if torch.cuda.is_available() else None
        if self.variant.get("compile") is not None:
            import torch._dynamo
            # Every spec gets a function of its own (``_compiled``): no cache of Dynamo's should
            # fill up, and one that did must fail rather than fall back to eager in silence.
            torch._dynamo.config.recompile_limit = 64
            torch._dynamo.config.fail_on_recompile_limit_hit = True
            torch._dynamo.config.suppress_errors = False

    @contextmanager
    def _settings(self):
        """The variant's switches around one call, restored afterwards."""
        torch = self.torch
        flags = [(torch.backends.mkldnn, "enabled", self.variant.get("mkldnn")),
                 (torch.backends.cudnn, "benchmark", self.variant.get("cudnn_benchmark"))]
        saved = [(module, attr, getattr(module, attr)) for module, attr, value in flags if value is not None]
        deterministic = self.variant.get("deterministic")
        was_deterministic = torch.are_deterministic_algorithms_enabled()
        try:
            for module, attr, value in flags:
                if value is not None:
                    setattr(module, attr, value)
            if deterministic is not None:
                torch.use_deterministic_algorithms(deterministic)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. padding='same' with an even kernel copies the input
                yield
        finally:
            for module, attr, value in saved:
                setattr(module, attr, value)
            if deterministic is not None:
                torch.use_deterministic_algorithms(was_deterministic)

    def run(self, spec, quantity, path, tensors):
        if self.torch is None:
            self.load()
        if self._device is None:
            raise Unavailable("no CUDA device visible to PyTorch")
        plan = self.plan(spec, quantity, path)
        with self._settings():
            if plan.padded is not None:
                return plan.padded(quantity, tensors,
                                   lambda valid, t: self._call(valid, quantity, path, t, self.plan(valid, quantity, path)))
            return self._call(spec, quantity, path, tensors, plan)

    def _tensor(self, spec, name, array, requires_grad=False):
        """The spec's array as a logical canonical tensor that keeps the spec's memory layout (or
        the variant's memory format)."""
        stored = np.array(layout.stored_view(spec, name, np.asarray(array)), dtype=np.float32, order="C")
        tensor = self.torch.from_numpy(stored)
        if self._device != "cpu":
            tensor = tensor.to(self._device)
        tensor = tensor.permute(layout.inverse(layout.permutation(spec, name)))
        memory = self.variant.get("memory_format")
        if memory is not None:
            tensor = tensor.contiguous(memory_format=self._memory_format(tensor.ndim, memory))
        return tensor.requires_grad_(requires_grad) if requires_grad else tensor

    def _memory_format(self, ndim, memory):
        torch = self.torch
        if memory == "contiguous":
            return torch.contiguous_format
        formats = {4: torch.channels_last, 5: torch.channels_last_3d}
        if ndim not in formats:
            raise Unavailable(f"PyTorch has no channels-last memory format for {ndim}-D tensors (1-D convolutions)")
        return formats[ndim]

    def _compile(self, key, function):
        """``function`` through torch.compile, once per key (a spec's call): a function object and
        code object of its own, so that Dynamo keeps its compiled graph apart from other specs'."""
        compiled = self._compiled.get(key)
        if compiled is None:
            import types
            if len(self._compiled) >= COMPILED_KEPT:
                self._compiled.clear()
            code = function.__code__.replace(co_name=f"symconv_conv_{len(self._compiled)}_{abs(hash(key)) % 10**8}")
            fresh = types.FunctionType(code, function.__globals__, code.co_name, function.__defaults__,
                                       function.__closure__)
            compiled = self._compiled[key] = self.torch.compile(
                fresh, backend=self.variant.get("compile"), fullgraph=True, dynamic=False)
        return compiled

    def _zeros(self, spec, name, requires_grad=False):
        return self._tensor(spec, name, np.zeros(spec.shape_of(name), dtype=np.float32), requires_grad)

    def _array(self, spec, name, tensor) -> np.ndarray:
        stored = tensor.detach().permute(layout.permutation(spec, name)).cpu().numpy()
        return layout.from_stored_view(spec, name, stored)

    def _forward(self, spec, plan):
        """f(x, w) -> y as PyTorch computes it under the plan.

        The operators are called as torch.ops.aten.conv2d etc., the very operators that
        torch.nn.functional.conv2d etc. bind to: their Python entry point is torch's own, so an
        exception they raise comes from a frame of torch (F.conv2d is a C builtin, and its
        exceptions would seem to come from this module)."""
        F, aten, nd = self.torch.nn.functional, self.torch.ops.aten, spec.ndim
        stride, dilation, groups = list(spec.strides), list(spec.dilations), spec.conv_groups
        if spec.transposed:
            op = getattr(aten, f"conv_transpose{nd}d")
            padding, extra = list(plan.padding), list(plan.output_padding)
            return lambda x, w: op(x, w, None, stride, padding, extra, groups, dilation)
        op = getattr(aten, f"conv{nd}d")
        padding = plan.padding if isinstance(plan.padding, str) else list(plan.padding)
        if plan.frame is None:
            return lambda x, w: op(x, w, None, stride, padding, dilation, groups)
        widths = [v for pair in reversed(plan.frame) for v in pair]  # F.pad lists the last axis first
        return lambda x, w: op(F.pad(x, widths), w, None, stride, padding, dilation, groups)

    def _call(self, spec, quantity, path, tensors, plan):
        torch = self.torch
        given = {name: self._tensor(spec, name, tensors[name]) for name in INPUTS[quantity]}
        forward = self._forward(spec, plan)
        compiled = self.variant.get("compile") is not None
        if compiled:
            forward = self._compile((spec, plan, "forward"), forward)
        if quantity == "forward":
            out = forward(given["x"], given["k"])
        elif path == "raw":
            out = self._raw(spec, quantity, plan, given, compiled)
        else:
            # The tensor differentiated for is the probe (filter_grad: x, input_grad: k); the
            # other factor is a zero tensor that requires the gradient.
            target = "k" if quantity == "filter_grad" else "x"
            source = self._zeros(spec, target, requires_grad=True)
            x, w = (given["x"], source) if target == "k" else (source, given["k"])
            y = forward(x, w)
            out = torch.autograd.grad(y, source, grad_outputs=given["g"])[0]
        return self._array(spec, SHAPED_LIKE[quantity], out)

    def _raw(self, spec, quantity, plan, given, compiled=False):
        torch = self.torch
        nd = spec.ndim
        x = given.get("x", self._zeros(spec, "x"))
        w = given.get("k", self._zeros(spec, "k"))
        transposed = spec.transposed
        mask = [quantity == "input_grad", quantity == "filter_grad", False]
        strides, padding, dilations = list(spec.strides), list(plan.padding), list(spec.dilations)
        extra, groups = list(plan.output_padding if transposed else (0,) * nd), spec.conv_groups
        pick = 0 if quantity == "input_grad" else 1

        def backward(g, x, w):
            return torch.ops.aten.convolution_backward(g, x, w, None, strides, padding, dilations, transposed, extra,
                                                       groups, mask)[pick]
        if compiled:
            backward = self._compile((spec, plan, quantity, "raw"), backward)
        return backward(given["g"], x, w)


def layout_pairs(frame) -> str:
    """F.pad's pads as before:after per spatial axis, in the spec's axis order."""
    return "pads " + ",".join(f"{b}:{a}" for b, a in frame)
