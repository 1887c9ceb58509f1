"""A Keras model (object or ``.keras`` file) as a Network, layers named by the model's names.

The graph is read from the model's own nodes (``_nodes_by_depth``: each node's layer, input
tensors and output tensors); every layer's output shape is compared with the one symconv
computes, so a padding symconv resolves differently from Keras stops the import with the
layer's name.  SAME padding is resolved with the ``tf`` convention (Keras's own).
"""

from __future__ import annotations

from ..errors import SymconvError
from . import layers as L
from .graph import Network, Opaque, Shape, check_shape

CONV = {"Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D"}
DEPTHWISE = {"DepthwiseConv1D", "DepthwiseConv2D"}
SEPARABLE = {"SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D", "SeparableConvolution2D"}
TRANSPOSE = {"Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "Convolution2DTranspose",
             "Convolution3DTranspose"}
MAXPOOL = {"MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "MaxPool1D", "MaxPool2D", "MaxPool3D"}
AVGPOOL = {"AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "AvgPool1D", "AvgPool2D", "AvgPool3D"}
GLOBAL_AVG = {"GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalAvgPool1D",
              "GlobalAvgPool2D", "GlobalAvgPool3D"}
GLOBAL_MAX = {"GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalMaxPool1D",
              "GlobalMaxPool2D", "GlobalMaxPool3D"}
PADDING = {"ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"}
CROPPING = {"Cropping1D", "Cropping2D", "Cropping3D"}
UPSAMPLING = {"UpSampling1D", "UpSampling2D", "UpSampling3D"}
# Entry (p, c) reads (p, c): made identity in the checked clone.
PASS = {"BatchNormalization", "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU", "Dropout",
        "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout",
        "AlphaDropout", "ActivityRegularization", "Identity", "Rescaling", "Normalization", "Masking"}
MIXING = {"Softmax", "LayerNormalization", "UnitNormalization", "GroupNormalization"}
MERGE = {"Add": "add", "Subtract": "subtract", "Multiply": "multiply", "Average": "average",
         "Maximum": "maximum", "Minimum": "minimum"}


def _pairs(value, nd):
    """Keras's padding/cropping forms -> ((before, after), ...) per spatial axis."""
    if isinstance(value, int):
        return ((value, value),) * nd
    value = tuple(value)
    if nd == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
        return (tuple(value),)
    return tuple((v, v) if isinstance(v, int) else tuple(v) for v in value)


def _activation_name(layer) -> str:
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", str(act))


def build_node(layer, name: str, srcs: list, out_shape):
    """The symconv node for one Keras layer call."""
    cls = type(layer).__name__
    src = srcs[0] if srcs else None
    fmt = getattr(layer, "data_format", "channels_last")
    if fmt not in (None, "channels_last"):
        raise SymconvError(f"layer {name!r} ({cls}) uses data_format {fmt!r}: symconv reads Keras models "
                           f"in channels_last")
    if cls in CONV:
        node = L.conv(name, src, layer.kernel_size, layer.strides, layer.dilation_rate, layer.padding, "tf",
                      layer.filters, getattr(layer, "groups", 1), label=cls)
    elif cls in DEPTHWISE:
        node = L.conv(name, src, layer.kernel_size, layer.strides, layer.dilation_rate, layer.padding, "tf",
                      multiplier=layer.depth_multiplier, label=cls)
    elif cls in SEPARABLE:
        dw = L.conv(f"{name}/depthwise", src, layer.kernel_size, layer.strides, layer.dilation_rate,
                    layer.padding, "tf", multiplier=layer.depth_multiplier, label=f"{cls} (depthwise)")
        pw = L.conv(name, dw, 1, filters=layer.filters, label=f"{cls} (pointwise)")
        return [dw, pw]
    elif cls in TRANSPOSE:
        spatial = tuple(int(d) for d in out_shape[1:-1]) if out_shape is not None else None
        node = L.transpose(name, src, layer.kernel_size, layer.strides, layer.dilation_rate, layer.padding, "tf",
                           layer.filters, 1, output_spatial=spatial, output_padding=layer.output_padding,
                           label=cls)
    elif cls in MAXPOOL or cls in AVGPOOL:
        kind = "max" if cls in MAXPOOL else "avg"
        node = L.pool(name, src, kind, layer.pool_size, layer.strides, layer.padding, "tf", divisor="valid",
                      label=cls)
    elif cls in GLOBAL_AVG or cls in GLOBAL_MAX:
        node = L.global_pool(name, src, "avg" if cls in GLOBAL_AVG else "max", getattr(layer, "keepdims", False),
                             label=cls)
    elif cls in PADDING:
        node = L.zero_pad(name, src, _pairs(layer.padding, src.shape.ndim), label=cls)
    elif cls in CROPPING:
        node = L.crop(name, src, _pairs(layer.cropping, src.shape.ndim), label=cls)
    elif cls in UPSAMPLING:
        mode = getattr(layer, "interpolation", "nearest")
        size = getattr(layer, "size", None) or getattr(layer, "length", 2)
        node = L.upsample(name, src, size, mode, label=cls)
    elif cls == "Activation" and _activation_name(layer) in ("softmax", "log_softmax"):
        node = L.channel_mix(name, src, None, label=cls, kind="softmax", structural=True)
    elif cls in PASS:
        node = L.passthrough(name, src, label=cls)
    elif cls in MIXING:
        axis = getattr(layer, "axis", -1)
        axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
        if set(axes) - {-1, src.shape.ndim + 1}:
            return [Opaque(name, "opaque", tuple(s.name for s in srcs), _shape(out_shape), cls, cls)]
        node = L.channel_mix(name, src, None, label=cls, kind=cls, structural=True)
    elif cls in MERGE:
        node = L.merge(name, srcs, MERGE[cls], label=cls)
    elif cls == "Concatenate":
        nd = srcs[0].shape.ndim
        axis = layer.axis if layer.axis >= 0 else layer.axis + nd + 2
        node = L.merge(name, srcs, "concat", axis=-1 if axis == nd + 1 else axis - 1, label=cls)
    elif cls in ("Dense", "EinsumDense") and cls == "Dense":
        node = L.channel_mix(name, src, layer.units, label=cls)
        if _activation_name(layer) == "softmax":
            node.check = "support"
    elif cls == "Flatten":
        node = L.flatten(name, src, True, label=cls)
    else:
        return [Opaque(name, "opaque", tuple(s.name for s in srcs), _shape(out_shape), cls, cls)]
    return [node]


def _shape(out_shape) -> Shape:
    dims = tuple(int(d) if d is not None else 1 for d in (out_shape or (1, 1))[1:])
    return Shape(dims[:-1], dims[-1]) if dims else Shape((), 1)


def _graph_of(model):
    functional = getattr(model, "_functional", None) or model
    by_depth = getattr(functional, "_nodes_by_depth", None)
    if by_depth is None:
        raise SymconvError(f"the Keras model {getattr(model, 'name', '')!r} has no graph yet: build it on an "
                           f"input (keras.Input or model.build) before tracing")
    return functional, by_depth


def from_keras(model) -> Network:
    """A Network from a built Keras functional or Sequential model."""
    functional, by_depth = _graph_of(model)
    calls = {}
    for depth in sorted(by_depth, reverse=True):
        for node in by_depth[depth]:
            calls.setdefault(node.operation.name, []).append(node)
    nodes, refs, tensor_names, inputs = {}, {}, {}, []
    batch = 1
    for depth in sorted(by_depth, reverse=True):
        for kn in sorted(by_depth[depth], key=lambda n: n.operation.name):
            layer = kn.operation
            k = calls[layer.name].index(kn)
            name = layer.name if len(calls[layer.name]) == 1 else f"{layer.name}:{k}"
            outs = list(kn.output_tensors)
            shape = tuple(outs[0].shape) if outs else None
            if type(layer).__name__ == "InputLayer" or kn.is_input:
                dims = tuple(shape)
                if dims[0] is not None:
                    batch = int(dims[0])
                if any(d is None for d in dims[1:]):
                    raise SymconvError(f"input {name!r} has unknown sizes {dims}: give the model a fixed input "
                                       f"shape (keras.Input(shape=(224, 224, 3)))")
                node = L.input_node(name, dims[1:-1], dims[-1], label="InputLayer")
                nodes[name] = node
                inputs.append(name)
                for t in outs:
                    tensor_names[id(t)] = name
                refs[name] = (layer.name, k)
                continue
            srcs = []
            for t in kn.input_tensors:
                if id(t) not in tensor_names:
                    raise SymconvError(f"layer {name!r} reads a tensor from outside the model")
                srcs.append(nodes[tensor_names[id(t)]])
            if len(outs) != 1:
                made = [Opaque(name, "opaque", tuple(s.name for s in srcs), _shape(shape), type(layer).__name__,
                               type(layer).__name__)]
            else:
                made = build_node(layer, name, srcs, shape)
            for node in made:
                nodes[node.name] = node
            check_shape(made[-1], shape, True)
            refs[name] = (layer.name, k)
            for t in outs:
                tensor_names[id(t)] = made[-1].name
    if not inputs:
        raise SymconvError("the Keras model has no input layer")
    net = Network(nodes, tuple(inputs), True, "keras", f"Keras model {model.name!r}", batch)
    net.refs = refs
    return net


def from_keras_file(path: str) -> Network:
    import os
    if not os.path.exists(path):
        raise SymconvError(f"model file {path!r} does not exist")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")   # TensorFlow's start-up notes are not symconv's output
    try:
        import keras
    except ImportError:
        raise SymconvError("reading a .keras file needs Keras: pip install 'symconv[tf-cpu]'") from None
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as err:  # noqa: BLE001 - any failure to load is the file's problem
        raise SymconvError(f"cannot load Keras model {path!r}: {str(err).splitlines()[0][:200]}") from None
    net = from_keras(model)
    net.model = model
    return net
