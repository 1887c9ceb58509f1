"""The ``keras`` backend: keras.layers.Conv1D/2D/3D, DepthwiseConv2D and Conv1D/2D/3DTranspose
(Keras 3) with the probe as their weights.  Keras runs on the backend ``--keras-backend`` names
(KERAS_BACKEND, read when Keras is imported, so each runs in a child process of its own):
TensorFlow by default (gradients by tf.GradientTape), JAX (jax.vjp over the layer's
``stateless_call``) or PyTorch (torch.autograd over the layer's call).

Keras takes only 'same' and 'valid'; any other padding is run as 'valid' on the direct input
padded by symconv, and a kernel in another layout than TensorFlow's is moved there by symconv;
the path says so.  A transposed layer's output length is set through
``output_padding`` where Keras can express it.

On a CPU without oneDNN TensorFlow refuses channels-first convolutions (see ``tf_backend``).
Keras works around it itself for DepthwiseConv2D (it transposes on a CPU-only runtime) and for
Conv3D (compiled with XLA); for the other layers symconv moves the activations to channels_last
and the path says so.
"""

from __future__ import annotations

import os

import numpy as np

from ..model.conventions import effective_kernel
from ..model.spec import DATA_FORMATS
from .base import PaddedRun, Relaid, Unavailable, native_padding
from .execution import ALL_QUANTITIES, ExecutionPath, Requirement
from .tf_backend import OnTensorFlow
from .variants import VariantOption

KERAS_BACKEND = VariantOption("keras_backend", "Keras backend", "the backend Keras runs on: tensorflow (the "
                              "default), jax or torch (KERAS_BACKEND)", kind="choice",
                              choices=("tensorflow", "jax", "torch"), at_start=True, environment="KERAS_BACKEND",
                              quiet_default=True)
_KERAS = Requirement("keras", "keras", "3.0", "tf-cpu")
EXECUTION_PATHS = (
    ExecutionPath("keras-tensorflow", "keras", "layer object", "Keras", "keras.layers.Conv*D on TensorFlow",
                  ALL_QUANTITIES, "tf.GradientTape over the layer",
                  requires=(_KERAS, Requirement("tensorflow", "tensorflow", "2.15", "tf-cpu"))),
    ExecutionPath("keras-jax", "keras", "layer object", "Keras", "keras.layers.Conv*D on JAX (KERAS_BACKEND=jax)",
                  ALL_QUANTITIES, "jax.vjp over the layer's stateless_call", (("keras_backend", "jax"),),
                  (_KERAS, Requirement("jax", "jax", "0.4", "jax"))),
    ExecutionPath("keras-torch", "keras", "layer object", "Keras",
                  "keras.layers.Conv*D on PyTorch (KERAS_BACKEND=torch)", ALL_QUANTITIES,
                  "torch.autograd over the layer", (("keras_backend", "torch"),),
                  (_KERAS, Requirement("torch", "torch", "2.1", "torch"))),
)

LAYERS = {"conv1d": "Conv1D", "conv2d": "Conv2D", "conv3d": "Conv3D", "depthwise_conv2d": "DepthwiseConv2D",
          "conv1d_transpose": "Conv1DTranspose", "conv2d_transpose": "Conv2DTranspose",
          "conv3d_transpose": "Conv3DTranspose"}
# Keras names the two data formats of each rank.
KERAS_FORMATS = {fmt: name for formats in DATA_FORMATS.values()
                 for fmt, name in zip(formats, ("channels_last", "channels_first"))}
# Layers whose channels_first calls reach a TensorFlow op that refuses channels-first on a CPU
# without oneDNN (Keras 3.15: DepthwiseConv2D transposes by itself, Conv3D runs under XLA).
CHANNELS_LAST_ONLY_WITHOUT_ONEDNN = frozenset({"conv1d", "conv2d", "conv1d_transpose", "conv2d_transpose",
                                               "conv3d_transpose"})


def output_padding(spec, padding: str):
    """``(True, value)`` where value is Keras's output_padding (None: Keras's own default)
    that yields the spec's transposed output size; ``(False, None)`` when Keras cannot reach
    it (an explicit output_padding must satisfy 0 <= output_padding < stride)."""
    defaults, explicit = True, []
    for axis in range(spec.ndim):
        size, k, s, d = (spec.direct_output_spatial[axis], spec.kernel_spatial[axis], spec.strides[axis],
                         spec.dilations[axis])
        ke = effective_kernel(k, d)
        default = size * s if padding == "same" else size * s + max(ke - s, 0)
        defaults &= spec.direct_input_spatial[axis] == default
        extra = spec.direct_input_spatial[axis] - ((size - 1) * s + ke - 2 * (ke // 2 if padding == "same" else 0))
        explicit.append(extra if 0 <= extra < s else None)
    if defaults:
        return True, None
    if None in explicit:
        return False, None
    return True, tuple(explicit)


class KerasBackend(OnTensorFlow):
    name = "keras"
    framework_modules = ("keras", "tensorflow", "jax", "jaxlib", "torch")
    variant_options = OnTensorFlow.variant_options + (KERAS_BACKEND,)
    child_environment = {**OnTensorFlow.child_environment, "KERAS_BACKEND": "tensorflow"}
    execution_paths = EXECUTION_PATHS

    def __init__(self, variant=None, grad_path="tape"):
        super().__init__(variant, "tape")
        self.keras = None
        self._layers = {}

    @property
    def on(self) -> str:
        """The backend Keras runs on."""
        return self.variant.get("keras_backend") or "tensorflow"

    def paths(self, spec, quantity):
        return ["layer" if quantity == "forward" else "tape"]

    def _setup(self, spec):
        """(padding for Keras, PaddedRun or None)."""
        native = native_padding(spec, explicit_ok=False)
        padded = None if native is not None else PaddedRun(spec)
        padding = (native or "VALID").lower()
        return padding, padded

    def takes_data_format(self, spec) -> bool:
        if self.on != "tensorflow":
            return True
        return spec.op not in CHANNELS_LAST_ONLY_WITHOUT_ONEDNN or super().takes_data_format(spec)

    def _relaid(self, spec):
        """The Relaid to TensorFlow's kernel layout and, where the layer's op refuses it, out of
        channels-first; None when the spec runs as it is."""
        fmt = None if self.takes_data_format(spec) else DATA_FORMATS[spec.ndim][0]
        return Relaid.to_layouts(spec, data_format=fmt, kernel_layout="keras")

    def describe(self, spec, quantity, path):
        relaid = self._relaid(spec)
        if relaid is not None:
            return f"{relaid.note(quantity)}: {self.describe(relaid.native, quantity, path)}"
        padding, padded = self._setup(spec)
        text = f"keras.layers.{LAYERS[spec.op]}(padding='{padding}')"
        if self.on != "tensorflow":
            text += f" on {self.on}"
        if quantity != "forward":
            text = {"tensorflow": "tf.GradientTape", "jax": "jax.vjp of stateless_call",
                    "torch": "torch.autograd.grad"}[self.on] + f" over {text}"
        return f"{padded.note()}: {text}" if padded is not None else text

    def load(self):
        os.environ.setdefault("KERAS_BACKEND", self.on)
        if self.on == "tensorflow":
            super().load()
        import keras
        if keras.backend.backend() != self.on:
            raise RuntimeError(f"Keras was asked to run on {self.on}, but it runs on {keras.backend.backend()!r} "
                               f"(KERAS_BACKEND is read when Keras is first imported)")
        keras.config.disable_traceback_filtering()  # whole tracebacks, as for TensorFlow
        self.keras = keras
        if self.on == "torch":
            import torch
            torch.backends.cuda.matmul.allow_tf32 = False   # probe values are exact in float32, not TF32
            torch.backends.cudnn.allow_tf32 = False
            if self.variant.threads is not None:
                torch.set_num_threads(self.variant.threads)

    def run(self, spec, quantity, path, tensors):
        relaid = self._relaid(spec)
        if relaid is not None:
            return relaid(quantity, tensors, lambda native, t: self.run(native, quantity, path, t))
        padding, padded = self._setup(spec)
        if self.on != "tensorflow":
            if self.keras is None:
                self.load()
            if self.variant.device == "gpu" and not self._has_gpu():
                raise Unavailable(f"no GPU visible to {self.on}")
            if padded is not None:
                return padded(quantity, tensors, lambda valid, t: self._call(valid, quantity, t, "valid"))
            return self._call(spec, quantity, tensors, padding)
        with self.device():
            if padded is not None:
                return padded(quantity, tensors, lambda valid, t: self._call(valid, quantity, t, "valid"))
            return self._call(spec, quantity, tensors, padding)

    def _has_gpu(self) -> bool:
        if self.on == "torch":
            import torch
            return torch.cuda.is_available()
        import jax
        try:
            return bool(jax.devices("gpu"))
        except RuntimeError:
            return False

    def _layer(self, spec, padding):
        key = (spec, padding)
        if key in self._layers:
            return self._layers[key]
        layers = self.keras.layers
        fmt = KERAS_FORMATS[spec.data_format]
        common = dict(kernel_size=spec.kernel_spatial, strides=spec.strides, padding=padding, data_format=fmt,
                      dilation_rate=spec.dilations, use_bias=False)
        name = LAYERS[spec.op]
        if spec.kind == "depthwise":
            layer = layers.DepthwiseConv2D(depth_multiplier=spec.kernel_shape[-1], **common)
        elif spec.transposed:
            if spec.groups != 1:
                raise Unavailable(f"keras.layers.{name} has no groups argument")
            possible, extra = output_padding(spec, padding)
            if not possible:
                raise Unavailable(f"keras.layers.{name} cannot produce output size {spec.direct_input_spatial} "
                                  f"(it needs 0 <= output_padding < stride)")
            layer = getattr(layers, name)(filters=spec.kernel_shape[-2], output_padding=extra, **common)
        else:
            layer = getattr(layers, name)(filters=spec.kernel_shape[-1], groups=spec.groups, **common)
        layer.build(spec.x_shape)
        if tuple(layer.kernel.shape) != tuple(spec.k_shape):
            raise RuntimeError(f"keras.layers.{name} built a kernel of shape {tuple(layer.kernel.shape)}, "
                               f"not {spec.k_shape}")
        self._layers[key] = layer
        return layer

    def _call(self, spec, quantity, tensors, padding):
        if self.on == "jax":
            return self._call_jax(spec, quantity, tensors, padding)
        if self.on == "torch":
            return self._call_torch(spec, quantity, tensors, padding)
        tf = self.tf
        layer = self._layer(spec, padding)
        t = {name: tf.constant(np.asarray(arr, dtype=np.float32)) for name, arr in tensors.items()}
        layer.kernel.assign(t["k"] if "k" in t else tf.zeros(spec.k_shape))
        if quantity == "forward":
            return layer(t["x"]).numpy()
        x = t["x"] if "x" in t else tf.zeros(spec.x_shape)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        target = layer.kernel if quantity == "filter_grad" else x
        grad = tape.gradient(y, target, output_gradients=t["g"])
        if grad is None:
            raise RuntimeError("the gradient is None: the output does not depend on the tensor")
        return grad.numpy()


    def _call_jax(self, spec, quantity, tensors, padding):
        import jax
        import jax.numpy as jnp
        layer = self._layer(spec, padding)
        t = {name: jnp.asarray(np.asarray(arr, dtype=np.float32)) for name, arr in tensors.items()}
        k = t.get("k", jnp.zeros(spec.k_shape, jnp.float32))
        x = t.get("x", jnp.zeros(spec.x_shape, jnp.float32))

        def apply(kernel, inputs):
            return layer.stateless_call([kernel], [], inputs)[0]
        with jax.default_matmul_precision("highest"):
            if quantity == "forward":
                return np.asarray(apply(k, x))
            _, vjp = jax.vjp(apply, k, x)
            dk, dx = vjp(t["g"])
        return np.asarray(dk if quantity == "filter_grad" else dx)

    def _call_torch(self, spec, quantity, tensors, padding):
        import torch
        layer = self._layer(spec, padding)
        device = "cuda" if self.variant.device == "gpu" else "cpu"
        t = {name: torch.tensor(np.asarray(arr, dtype=np.float32), device=device) for name, arr in tensors.items()}
        layer.kernel.assign(t["k"] if "k" in t else torch.zeros(spec.k_shape, device=device))
        if quantity == "forward":
            with torch.no_grad():
                return layer(t["x"]).detach().cpu().numpy()
        x = t["x"] if "x" in t else torch.zeros(spec.x_shape, device=device)
        kernel = layer.kernel.value
        target = kernel if quantity == "filter_grad" else x.requires_grad_(True)
        y = layer(x)
        grad = torch.autograd.grad(y, target, grad_outputs=t["g"], allow_unused=True)[0]
        if grad is None:
            raise RuntimeError("the gradient is None: the output does not depend on the tensor")
        return grad.detach().cpu().numpy()
