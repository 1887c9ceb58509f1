"""TensorFlow backends: ``tf`` (eager) and ``tf-xla`` (the same under jit_compile=True).

Forward: tf.nn.conv1d/2d/3d, depthwise_conv2d, conv1d/2d/3d_transpose.  Gradients along two
paths: ``raw``, the backprop ops themselves (Conv2DBackpropFilter/Input, Conv3DBackprop*V2,
DepthwiseConv2dNativeBackprop*; 1-D through the 2-D ops on a unit-height view, as TensorFlow
itself does; for a transposed convolution dx is the direct convolution), and ``tape``,
tf.GradientTape over the forward op.  TensorFlow takes kernels in its own layouts (HWIO, depthwise
HWCM, transposed HWOI): a spec in another kernel layout runs with its kernel moved there by
symconv, and the path says so.  TensorFlow is imported by ``load``, never at import.

On a CPU without oneDNN, every TensorFlow convolution op refuses the channels-first data
formats (Conv2D: "only supports the NHWC tensor format on the CPU"; Conv3D, the backprop ops and
DepthwiseConv2dNative likewise); TensorFlow turns oneDNN on by default only on Linux x86 CPUs
with AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX (``DefaultOneDnnPolicy`` in
tensorflow/core/util/port.cc), so on an AVX2-only CPU the default is off.  There symconv moves the
activations to channels-last itself and the path says so; where the op takes channels-first
(oneDNN on, a GPU, XLA) it is called directly.  Whether oneDNN is on is TensorFlow's answer
(``IsMklEnabled``), not a guess from the CPU: the variant's setting when it has one, otherwise
TensorFlow asked once in a child process started with the same environment; the process that runs
the ops checks it again when it loads TensorFlow.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import numpy as np

from ..model.layout import spatial_letters
from ..model.quantities import INPUTS
from ..model.spec import DATA_FORMATS, format_padding
from .base import Backend, DocumentedLimit, PaddedRun, Relaid, Unavailable, native_padding
from .execution import ALL_QUANTITIES, BUILD_SECONDS, ExecutionPath, Requirement
from .variants import THREADS, VariantOption

# TF_ENABLE_ONEDNN_OPTS is read when TensorFlow is imported: a variant that sets it runs in a
# child process started with it.
ONEDNN = VariantOption("onednn", "oneDNN", "TF_ENABLE_ONEDNN_OPTS for TensorFlow (default: TensorFlow's own, on "
                       "only on CPUs with AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX)",
                       at_start=True, environment="TF_ENABLE_ONEDNN_OPTS")

# Asks TensorFlow whether it turns oneDNN on, printing 1 or 0.  The small module that answers
# (_pywrap_util_port, which reads TF_ENABLE_ONEDNN_OPTS and the CPU's features as TensorFlow does)
# is loaded on its own when it can be found: importing all of TensorFlow takes seconds.
ASK_ONEDNN = """
import glob, importlib.util, os, sys
found = importlib.util.find_spec("tensorflow")
where = os.path.join(os.path.dirname(found.origin), "python", "util") if found and found.origin else ""
if glob.glob(os.path.join(where, "_pywrap_util_port*")):
    sys.path.insert(0, where)
    import _pywrap_util_port as port
else:
    from tensorflow.python.util import _pywrap_util_port as port
print(int(port.IsMklEnabled()))
"""
_ASKED: dict = {}   # TF_ENABLE_ONEDNN_OPTS (None: unset) -> TensorFlow's answer

API = VariantOption("api", "API", "which TensorFlow API the tf backends call: nn, the per-rank ops tf.nn.conv2d etc. "
                    "(the default), or convolution, tf.nn.convolution and tf.nn.conv_transpose",
                    kind="choice", choices=("nn", "convolution"), quiet_default=True)
TENSORFLOW = Requirement("tensorflow", "tensorflow", "2.15", "tf-cpu")
EAGER_PATHS = (
    ExecutionPath("tf-eager", "tf", "eager op", "TensorFlow", "tf.nn.conv1d/2d/3d, depthwise_conv2d and "
                  "conv*_transpose called eagerly", ALL_QUANTITIES,
                  "the raw backprop ops (raw) or tf.GradientTape (tape)", requires=(TENSORFLOW,)),
    ExecutionPath("tf-convolution", "tf", "eager op", "TensorFlow", "tf.nn.convolution (depthwise as a grouped "
                  "convolution) and tf.nn.conv_transpose called eagerly", ALL_QUANTITIES,
                  "tf.GradientTape (tf.nn.convolution has no raw backward ops of its own)", (("api", "convolution"),),
                  (TENSORFLOW,)),
)
XLA_PATHS = (
    ExecutionPath("tf-xla", "tf-xla", "compiled", "TensorFlow", "tf.function(jit_compile=True) of the tf.nn ops, "
                  "compiled by XLA once per spec", ALL_QUANTITIES, "the raw backprop ops or tf.GradientTape, compiled",
                  requires=(TENSORFLOW,), build_seconds=BUILD_SECONDS),
    ExecutionPath("tf-xla-convolution", "tf-xla", "compiled", "TensorFlow", "tf.function(jit_compile=True) of "
                  "tf.nn.convolution and tf.nn.conv_transpose", ALL_QUANTITIES, "tf.GradientTape, compiled",
                  (("api", "convolution"),), (TENSORFLOW,), BUILD_SECONDS),
)


def _depthwise_strided_and_dilated(backend, spec, quantity) -> bool:
    return spec.kind == "depthwise" and max(spec.strides) > 1 and max(spec.dilations) > 1


# tf.nn.depthwise_conv2d's docstring: "If any value of rate is greater than 1, then all values of
# strides must be 1" (and it warns so, tensorflow/python/ops/nn_impl.py, with_space_to_batch).
DEPTHWISE_LIMIT = DocumentedLimit(
    "depthwise stride and dilation", "tf.nn.depthwise_conv2d documents that when any dilation rate is above 1 every "
    "stride must be 1, and warns \"When dilation rate is greater than 1, then all values of strides must be 1\"",
    _depthwise_strided_and_dilated)


def onednn_default() -> bool | None:
    """Whether TensorFlow started with this process's environment runs with oneDNN on: asked of
    TensorFlow in a child process (its IsMklEnabled), once per value of TF_ENABLE_ONEDNN_OPTS;
    None when it could not be asked (the ops are then called as they are, and TensorFlow's
    refusal, if any, is reported as such)."""
    key = os.environ.get(ONEDNN.environment)
    if key not in _ASKED:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        try:
            done = subprocess.run([sys.executable, "-c", ASK_ONEDNN], capture_output=True, text=True, env=env,
                                  timeout=300)
            answer = done.stdout.strip().splitlines()[-1:] if done.returncode == 0 else []
        except (OSError, subprocess.TimeoutExpired):
            answer = []
        _ASKED[key] = {"1": True, "0": False}.get("".join(answer))
    return _ASKED[key]


def on_off(value) -> str:
    return "unknown" if value is None else "on" if value else "off"


FORWARD_OPS = {op: f"tf.nn.{op}" for op in ("conv1d", "conv2d", "conv3d", "depthwise_conv2d", "conv1d_transpose",
                                             "conv2d_transpose", "conv3d_transpose")}
RAW_OPS = {"conv1d": ("Conv2DBackpropFilter", "Conv2DBackpropInput"),
           "conv2d": ("Conv2DBackpropFilter", "Conv2DBackpropInput"),
           "conv3d": ("Conv3DBackpropFilterV2", "Conv3DBackpropInputV2"),
           "depthwise_conv2d": ("DepthwiseConv2dNativeBackpropFilter", "DepthwiseConv2dNativeBackpropInput"),
           "conv1d_transpose": ("Conv2DBackpropFilter", "tf.nn.conv1d"),
           "conv2d_transpose": ("Conv2DBackpropFilter", "tf.nn.conv2d"),
           "conv3d_transpose": ("Conv3DBackpropFilterV2", "tf.nn.conv3d")}


@dataclass(frozen=True)
class Plan:
    """How one (spec, quantity, path) is run: the padding handed to TensorFlow, or None with
    ``padded`` when symconv pads the direct input itself; ``relaid`` when symconv moves the kernel
    to TensorFlow's layout."""

    padding: object
    padded: PaddedRun | None
    text: str
    relaid: Relaid | None = None


def padding_text(padding) -> str:
    if isinstance(padding, str):
        return f"'{padding}'"
    return f"explicit {format_padding(padding)}"


class OnTensorFlow(Backend):
    """A backend that runs TensorFlow ops: imports it on load, honours the variant's threads
    and device."""

    has_variant = True
    framework_modules = ("tensorflow",)
    variant_options = (ONEDNN, THREADS)
    child_environment = {"TF_CPP_MIN_LOG_LEVEL": "2"}
    documented_limits = (DEPTHWISE_LIMIT,)

    def __init__(self, variant=None, grad_path="raw"):
        super().__init__(variant, grad_path)
        self.tf = None
        self._gpus = []
        self.onednn = None      # whether oneDNN is on where the ops run (None: not asked yet)
        self.onednn_said = False   # whether that is what the loaded TensorFlow said (here or in a child)
        self._onednn_trouble = None

    def onednn_in_effect(self) -> bool | None:
        """Whether TensorFlow runs with oneDNN on: TensorFlow's own answer once it is loaded, before
        that the variant's setting or, by default, TensorFlow asked in a child process (None: it
        could not be asked)."""
        if self.onednn is None:
            asked = self.variant.get(ONEDNN.name)
            self.onednn = asked if asked is not None else onednn_default()
        return self.onednn

    def load(self):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf
        tf.get_logger().setLevel("ERROR")  # one tf.function per probed shape: retracing is expected
        # Whole tracebacks: who raised an exception (TensorFlow, or symconv's adapter) is read from
        # them, and the filtered ones drop TensorFlow's own frames.
        tf.debugging.disable_traceback_filtering()
        if self.variant.threads is not None:
            tf.config.threading.set_intra_op_parallelism_threads(self.variant.threads)
        self.tf = tf
        self._gpus = tf.config.list_physical_devices("GPU")
        self._check_onednn()

    def _check_onednn(self) -> None:
        """Ask the TensorFlow just loaded whether oneDNN is on; a variant that asked otherwise
        cannot run here, and a plan made for the other answer is symconv's mistake."""
        try:
            from tensorflow.python.util import _pywrap_util_port
            actual = bool(_pywrap_util_port.IsMklEnabled())
        except (ImportError, AttributeError):
            return
        planned, asked = self.onednn, self.variant.get(ONEDNN.name)
        self.onednn, self.onednn_said = actual, True
        if asked is not None and asked != actual:
            self._onednn_trouble = Unavailable(
                f"oneDNN was asked {on_off(asked)} ({ONEDNN.environment}={int(asked)}), but this TensorFlow runs with "
                f"it {on_off(actual)} (IsMklEnabled() is {actual})")
        elif planned is not None and planned != actual:
            self._onednn_trouble = RuntimeError(
                f"symconv planned for oneDNN {on_off(planned)}, but TensorFlow runs with it {on_off(actual)}")

    def manifest(self):
        return {"onednn": self.onednn} if self.onednn_said else None

    def adopt(self, manifest: dict) -> None:
        self.onednn, self.onednn_said = manifest["onednn"], True

    def facts(self) -> dict:
        """What the loaded TensorFlow said where it runs: whether oneDNN is on."""
        return {"oneDNN": on_off(self.onednn)} if self.onednn_said else {}

    def takes_data_format(self, spec) -> bool:
        """Whether the ops take the spec's data format where they run: channels-first is refused
        on a CPU without oneDNN."""
        channels_last = spec.data_format == DATA_FORMATS[spec.ndim][0]
        return channels_last or self.variant.device != "cpu" or self.onednn_in_effect() is not False

    def device(self):
        """The variant's device scope (loading TensorFlow first); Unavailable without a GPU or
        where TensorFlow does not run with the oneDNN setting asked."""
        if self.tf is None:
            self.load()
        if self._onednn_trouble is not None:
            raise self._onednn_trouble
        if self.variant.device == "gpu" and not self._gpus:
            raise Unavailable("no GPU visible to TensorFlow")
        return self.tf.device("/GPU:0" if self.variant.device == "gpu" else "/CPU:0")


class TFBackend(OnTensorFlow):
    name = "tf"
    jit = False
    variant_options = (ONEDNN, API, THREADS)
    execution_paths = EAGER_PATHS

    def __init__(self, variant=None, grad_path="raw"):
        super().__init__(variant, grad_path)
        self._functions = {}
        self._constants = []

    # ---- framework-free: which ops, which padding ----------------------------------------
    @property
    def convolution_api(self) -> bool:
        """Whether the calls go through tf.nn.convolution / tf.nn.conv_transpose."""
        return self.variant.get("api") == "convolution"

    def paths(self, spec, quantity):
        if quantity == "forward":
            return ["op"]
        if self.convolution_api:
            return ["tape"]
        return {"raw": ["raw"], "tape": ["tape"], "both": ["raw", "tape"]}[self.grad_path]

    def op_name(self, spec, quantity, path) -> str:
        if self.convolution_api and (quantity == "forward" or path == "tape"):
            return "tf.nn.conv_transpose" if spec.transposed else "tf.nn.convolution"
        if quantity == "forward" or path == "tape":
            return FORWARD_OPS[spec.op]
        name = RAW_OPS[spec.op][0 if quantity == "filter_grad" else 1]
        return name if name.startswith("tf.") else f"tf.raw_ops.{name}"

    def takes_data_format(self, spec) -> bool:
        return self.jit or super().takes_data_format(spec)   # XLA takes every layout

    def plan(self, spec, quantity, path) -> Plan:
        fmt = None if self.takes_data_format(spec) else DATA_FORMATS[spec.ndim][0]
        relaid = Relaid.to_layouts(spec, data_format=fmt, kernel_layout="tf")
        if relaid is not None:
            inner = self.plan(relaid.native, quantity, path)
            return Plan(inner.padding, inner.padded, f"{relaid.note(quantity)}: {inner.text}", relaid)
        # tf.nn.convolution takes only 'SAME' and 'VALID' ("Expected string for argument 'padding'").
        padding = native_padding(spec, explicit_ok=spec.ndim == 2 and not self.convolution_api)
        padded = None if padding is not None else PaddedRun(spec)
        op = self.op_name(spec, quantity, path)
        call = f"{op}(padding={padding_text(padding if padding is not None else 'VALID')})"
        if quantity != "forward" and path == "tape":
            call = f"tf.GradientTape over {call}"
        elif spec.ndim == 1 and quantity != "forward" and "raw_ops" in op:
            call += " on a unit-height 2-D view"
        if padded is not None:
            call = f"{padded.note()}: {call}"
        if self.jit:
            call = f"tf.function(jit_compile=True): {call}"
        return Plan(padding, padded, call)

    def describe(self, spec, quantity, path):
        return self.plan(spec, quantity, path).text

    # ---- TensorFlow --------------------------------------------------------------------------
    def run(self, spec, quantity, path, tensors):
        plan = self.plan(spec, quantity, path)
        if plan.relaid is not None:
            return plan.relaid(quantity, tensors, lambda native, t: self.run(native, quantity, path, t))
        with self.device():
            if plan.padded is not None:
                return plan.padded(quantity, tensors, lambda valid, t: self._call(valid, quantity, path, t, "VALID"))
            return self._call(spec, quantity, path, tensors, plan.padding)

    def _constant(self, array):
        """A float32 tensor of the array; the last few are kept, since the quantities of one
        check share their probe tensors."""
        for kept, tensor in self._constants:
            if kept is array:
                return tensor
        tensor = self.tf.constant(np.asarray(array, dtype=np.float32))
        if isinstance(array, np.ndarray) and not array.flags.writeable:
            self._constants = [(array, tensor)] + self._constants[:5]
        return tensor

    def _call(self, spec, quantity, path, tensors, padding):
        tf = self.tf
        args = [self._constant(tensors[name]) for name in INPUTS[quantity]]
        key = (spec, quantity, path, padding)
        function = self._functions.get(key)
        if function is None:
            function = self._build(spec, quantity, path, padding)
            if self.jit:
                function = tf.function(function, jit_compile=True, autograph=False, reduce_retracing=False)
            self._functions[key] = function
        out = function(*args)
        if out is None:
            raise RuntimeError("the gradient is None: the output does not depend on the tensor")
        return out.numpy()

    # ---- the ops ---------------------------------------------------------------------------
    def _full(self, values, fmt):
        """Per-spatial-axis values -> the full-rank list in the data format (1 at N and C)."""
        by_letter = dict(zip(spatial_letters(len(fmt) - 2), values))
        return [by_letter.get(letter, 1) for letter in fmt]

    def _padding_args(self, padding, fmt):
        """(padding, explicit_paddings) for raw ops; the nested list for tf.nn."""
        if isinstance(padding, str):
            return padding, [], padding
        by_letter = dict(zip(spatial_letters(len(fmt) - 2), ([int(b), int(a)] for b, a in padding)))
        nested = [by_letter.get(letter, [0, 0]) for letter in fmt]
        return "EXPLICIT", [v for pair in nested for v in pair], nested

    def _forward(self, spec, padding):
        tf, nd, fmt = self.tf, spec.ndim, spec.data_format
        _, _, pad = self._padding_args(padding, fmt)
        strides, dil = list(spec.strides), list(spec.dilations)
        if self.convolution_api:
            return self._convolution_api(spec, pad)
        if spec.kind == "depthwise":
            return lambda x, k: tf.nn.depthwise_conv2d(x, k, strides=self._full(strides, fmt), padding=pad,
                                                       data_format=fmt, dilations=dil)
        if spec.transposed:
            op = {1: tf.nn.conv1d_transpose, 2: tf.nn.conv2d_transpose, 3: tf.nn.conv3d_transpose}[nd]
            out = list(spec.y_shape)
            return lambda x, k: op(x, k, output_shape=out, strides=strides if nd < 3 else self._full(strides, fmt),
                                   padding=pad, data_format=fmt,
                                   dilations=dil if nd < 3 else self._full(dil, fmt))
        return self._direct(spec, pad)

    def _convolution_api(self, spec, pad):
        """tf.nn.convolution (a depthwise kernel (H, W, C, M) as the grouped kernel (H, W, 1, C*M))
        and tf.nn.conv_transpose, which take every rank."""
        tf = self.tf
        # data_format as a user writes it: left out for channels last (tf.nn.convolution's default).
        fmt = None if spec.data_format == DATA_FORMATS[spec.ndim][0] else spec.data_format
        strides, dil = list(spec.strides), list(spec.dilations)
        if spec.transposed:
            out = list(spec.y_shape)
            return lambda x, k: tf.nn.conv_transpose(x, k, output_shape=out, strides=strides, padding=pad,
                                                     data_format=fmt, dilations=dil)
        if spec.kind == "depthwise":
            grouped = [*spec.kernel_spatial, 1, spec.k_shape[-2] * spec.k_shape[-1]]
            return lambda x, k: tf.nn.convolution(x, tf.reshape(k, grouped), strides=strides, padding=pad,
                                                  data_format=fmt, dilations=dil)
        return lambda x, k: tf.nn.convolution(x, k, strides=strides, padding=pad, data_format=fmt, dilations=dil)

    def _direct(self, spec, pad):
        """The direct convolution (forward of conv, dx of a transposed conv): f(direct input, k)."""
        tf, nd, fmt = self.tf, spec.ndim, spec.data_format
        strides, dil = list(spec.strides), list(spec.dilations)
        if nd == 1:
            return lambda x, k: tf.nn.conv1d(x, k, stride=strides, padding=pad, data_format=fmt, dilations=dil)
        if nd == 2:
            return lambda x, k: tf.nn.conv2d(x, k, strides=strides, padding=pad, data_format=fmt, dilations=dil)
        return lambda x, k: tf.nn.conv3d(x, k, strides=self._full(strides, fmt), padding=pad, data_format=fmt,
                                         dilations=self._full(dil, fmt))

    def _build(self, spec, quantity, path, padding):
        """A function of the quantity's inputs (INPUTS order) returning one tensor."""
        tf = self.tf
        if quantity == "forward":
            return self._forward(spec, padding)
        if path == "tape":
            forward = self._forward(spec, padding)
            k_zero, x_zero = np.zeros(spec.k_shape, np.float32), np.zeros(spec.x_shape, np.float32)

            def tape_grad(a, g):  # a is x for filter_grad, k for input_grad
                x, k = (a, tf.constant(k_zero)) if quantity == "filter_grad" else (tf.constant(x_zero), a)
                target = k if quantity == "filter_grad" else x
                with tf.GradientTape() as tape:
                    tape.watch(target)
                    y = forward(x, k)
                return tape.gradient(y, target, output_gradients=g)
            return tape_grad
        return self._raw(spec, quantity, padding)

    def _raw(self, spec, quantity, padding):
        tf, nd, fmt = self.tf, spec.ndim, spec.data_format
        raw = tf.raw_ops
        transpose = spec.transposed
        if transpose and quantity == "input_grad":
            _, _, pad = self._padding_args(padding, fmt)
            direct = self._direct(spec, pad)
            return lambda k, g: direct(g, k)
        if nd == 1:
            return self._raw_1d(spec, quantity, padding)
        pad, explicit, _ = self._padding_args(padding, fmt)
        strides, dil = self._full(spec.strides, fmt), self._full(spec.dilations, fmt)
        k_shape, x_shape = list(spec.k_shape), list(spec.x_shape)
        if nd == 3:
            extra = {}
            filt, inp = raw.Conv3DBackpropFilterV2, raw.Conv3DBackpropInputV2
        else:
            extra = {"explicit_paddings": explicit}
            if spec.kind == "depthwise":
                filt, inp = raw.DepthwiseConv2dNativeBackpropFilter, raw.DepthwiseConv2dNativeBackpropInput
            else:
                filt, inp = raw.Conv2DBackpropFilter, raw.Conv2DBackpropInput
        common = dict(strides=strides, padding=pad, data_format=fmt, dilations=dil, **extra)
        if quantity == "filter_grad":
            if transpose:  # dk of y = conv_transpose(x, k): the direct conv's filter gradient, its direct input is g
                return lambda x, g: filt(input=g, filter_sizes=k_shape, out_backprop=x, **common)
            return lambda x, g: filt(input=x, filter_sizes=k_shape, out_backprop=g, **common)
        return lambda k, g: inp(input_sizes=x_shape, filter=k, out_backprop=g, **common)

    def _raw_1d(self, spec, quantity, padding):
        """1-D gradients through the 2-D backprop ops on a unit-height view."""
        tf, fmt = self.tf, spec.data_format
        fmt2 = fmt.replace("W", "HW")   # a unit height before the width
        axis = fmt2.index("H")
        pad2 = padding if isinstance(padding, str) else ((0, 0), *padding)
        pad, explicit, _ = self._padding_args(pad2, fmt2)
        common = dict(strides=self._full([1, *spec.strides], fmt2), padding=pad, explicit_paddings=explicit,
                      data_format=fmt2, dilations=self._full([1, *spec.dilations], fmt2))
        k_shape = [1, *spec.k_shape]
        x_shape = list(spec.x_shape)
        x_shape.insert(axis, 1)
        up = lambda t: tf.expand_dims(t, axis)
        if quantity == "filter_grad":
            # The direct convolution's filter gradient: its input is x, or a transposed one's g.
            direct_input = spec.tensor_with_role("direct_input")
            inputs, outputs = {"x": ("x", "g"), "y": ("g", "x")}[direct_input]

            def filter_grad(x, g):
                t = {"x": x, "g": g}
                return tf.raw_ops.Conv2DBackpropFilter(input=up(t[inputs]), filter_sizes=k_shape,
                                                       out_backprop=up(t[outputs]), **common)[0]
            return filter_grad
        return lambda k, g: tf.squeeze(tf.raw_ops.Conv2DBackpropInput(
            input_sizes=x_shape, filter=tf.expand_dims(k, 0), out_backprop=up(g), **common), axis)


class XLABackend(TFBackend):
    """The same calls compiled with XLA (tf.function(jit_compile=True))."""

    name = "tf-xla"
    jit = True
    execution_paths = XLA_PATHS
