"""A PyTorch ``nn.Module`` as a Network, through ``torch.fx``.

``torch.fx.symbolic_trace`` gives the graph; ``ShapeProp`` on a zero input of ``input_shape``
gives every tensor's shape, which is compared with the shape symconv computes.  Modules are
named by their qualified names (``layer1.0.conv1``); other operations by their fx node names
(``add``, ``cat_1``), which also name modules.  Layouts are PyTorch's (N, C, spatial...), and
padding is PyTorch's explicit integers ('same' as PyTorch resolves it: the odd pixel after).
"""

from __future__ import annotations

from fractions import Fraction

from ..errors import SymconvError, shown
from ..model.spec import parse_shape
from . import layers as L
from .graph import Network, Opaque, Shape, check_shape
from .limits import check_tensor

ELEMENTWISE_MODULES = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "ReLU", "ReLU6", "LeakyReLU",
                       "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Sigmoid", "Tanh", "Hardswish",
                       "Hardsigmoid", "Hardtanh", "Mish", "Softplus", "Dropout", "Dropout1d", "Dropout2d",
                       "Dropout3d", "AlphaDropout", "Identity", "LogSigmoid", "Tanhshrink")
ELEMENTWISE_FUNCTIONS = {"relu", "relu_", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "sigmoid", "tanh",
                         "hardswish", "hardsigmoid", "hardtanh", "mish", "softplus", "dropout", "dropout2d",
                         "contiguous", "clone", "float", "double", "detach"}


def check_source(text) -> tuple:
    """``FILE.py:NAME`` -> (path, name), checked without running anything: the form, the file,
    and PyTorch installed."""
    import importlib.util
    import os
    if not isinstance(text, str):
        raise SymconvError(f"--torch must look like FILE.py:NAME, got {shown(text)}")
    path, sep, name = text.rpartition(":")
    if not sep or not path.endswith(".py") or not name.isidentifier():
        raise SymconvError(f"--torch must look like FILE.py:NAME, got {shown(text)}")
    try:
        if not os.path.isfile(path):
            raise SymconvError(f"--torch file {shown(path)} does not exist" if not os.path.exists(path) else
                               f"--torch file {shown(path)} is not a file")
    except ValueError:   # a NUL in the path
        raise SymconvError(f"--torch file {shown(path)} does not exist") from None
    if importlib.util.find_spec("torch") is None:
        raise SymconvError("PyTorch models need PyTorch: pip install 'symconv[torch]'")
    return path, name


def load_module(text: str):
    """``FILE.py:NAME`` -> the nn.Module that NAME (a function or class in FILE) returns.  This
    runs the user's code here: ``symconv.network.factory`` runs it in a guarded child."""
    import importlib.util
    path, name = check_source(text)
    import torch
    spec = importlib.util.spec_from_file_location("symconv_user_model", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # noqa: BLE001 - the user's file failed: one line
        raise SymconvError(f"--torch: {path} failed to import: {type(err).__name__}: {err}") from None
    factory = getattr(module, name, None)
    if factory is None:
        raise SymconvError(f"--torch: {path} has no {name!r}")
    model = factory() if callable(factory) and not isinstance(factory, torch.nn.Module) else factory
    if not isinstance(model, torch.nn.Module):
        raise SymconvError(f"--torch: {name} must be or return a torch.nn.Module, got {type(model).__name__}")
    return model


def _arg(node, index, key, default=None):
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(key, default)


def _tuple(value, nd):
    if isinstance(value, int):
        return (value,) * nd
    return tuple(value)


def _pad_pairs(pad, nd):
    """F.pad's (last-axis first) list -> ((before, after), ...) in axis order."""
    pad = list(pad) + [0] * (2 * nd - len(pad))
    pairs = [(pad[2 * i], pad[2 * i + 1]) for i in range(nd)]
    return tuple(reversed(pairs))


def _conv_padding(padding, kernel, dilation, nd):
    if isinstance(padding, str):
        if padding == "valid":
            return "VALID"
        total = [d * (k - 1) for k, d in zip(_tuple(kernel, nd), _tuple(dilation, nd))]
        return tuple((t // 2, t - t // 2) for t in total)
    return tuple((p, p) for p in _tuple(padding, nd))


def _module_node(mod, name, srcs, nd, meta_shape):
    import torch.nn as nn
    cls = type(mod).__name__
    src = srcs[0]
    if isinstance(mod, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        if mod.padding_mode != "zeros":
            return Opaque(name, "opaque", (src.name,), _shape(meta_shape), f"{cls} padding_mode={mod.padding_mode}",
                          f"{cls}(padding_mode={mod.padding_mode!r})")
        return L.conv(name, src, mod.kernel_size, mod.stride, mod.dilation,
                      _conv_padding(mod.padding, mod.kernel_size, mod.dilation, nd), "torch", mod.out_channels,
                      mod.groups, label=cls)
    if isinstance(mod, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        pads = tuple((p, p) for p in _tuple(mod.padding, nd))
        return L.transpose(name, src, mod.kernel_size, mod.stride, mod.dilation, pads, "torch", mod.out_channels,
                           mod.groups, output_spatial=tuple(meta_shape[2:]), label=cls)
    if isinstance(mod, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
        return _pool(name, src, "max", mod.kernel_size, mod.stride, mod.padding, mod.dilation, mod.ceil_mode,
                     nd, cls)
    if isinstance(mod, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)):
        divisor = getattr(mod, "divisor_override", None) or ("padded" if mod.count_include_pad else "valid")
        return _pool(name, src, "avg", mod.kernel_size, mod.stride, mod.padding, 1, mod.ceil_mode, nd, cls,
                     divisor)
    if isinstance(mod, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
                        nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)):
        kind = "avg" if "Avg" in cls else "max"
        return _adaptive(name, src, kind, mod.output_size, nd, cls)
    if isinstance(mod, (nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d, nn.ConstantPad1d, nn.ConstantPad2d,
                        nn.ConstantPad3d)):
        return _pad(name, src, mod.padding, nd, cls)
    if isinstance(mod, nn.Upsample):
        return _upsample(name, src, mod.scale_factor, mod.size, mod.mode, mod.align_corners, nd, cls)
    if isinstance(mod, nn.Flatten):
        if mod.start_dim != 1 or mod.end_dim != -1:
            return None
        return L.flatten(name, src, channels_last=False, label=cls)
    if isinstance(mod, nn.Linear):
        if src.shape.spatial:
            return None
        return L.channel_mix(name, src, mod.out_features, label=cls)
    if isinstance(mod, nn.Softmax) and mod.dim in (1, -1 if not src.shape.spatial else 1):
        return L.channel_mix(name, src, None, label=cls, kind="softmax", structural=True)
    if cls in ELEMENTWISE_MODULES:
        return L.passthrough(name, src, label=cls)
    return None


def _shape(meta_shape) -> Shape:
    dims = tuple(int(d) for d in meta_shape[1:]) if meta_shape is not None else (1,)
    return Shape(dims[1:], dims[0]) if dims else Shape((), 1)


def _pool(name, src, kind, size, stride, padding, dilation, ceil_mode, nd, label, divisor="valid"):
    size = _tuple(size, nd)
    stride = _tuple(stride if stride not in (None, ()) else size, nd)
    pads = tuple((p, p) for p in _tuple(padding, nd))
    return L.pool(name, src, kind, size, stride, pads, "torch", _tuple(dilation, nd), divisor, ceil_mode, label=label)


def _adaptive(name, src, kind, output_size, nd, label):
    out = _tuple(output_size, nd)
    out = tuple(n if o is None else o for o, n in zip(out, src.shape.spatial))
    if all(o == 1 for o in out):
        return L.global_pool(name, src, kind, keepdims=True, label=label)
    return L.adaptive_pool(name, src, kind, out, label=label)


def _pad(name, src, padding, nd, label):
    pairs = _pad_pairs(_tuple(padding, 2 * nd) if isinstance(padding, int) else padding, nd)
    if any(b < 0 or a < 0 for b, a in pairs):
        if all(b <= 0 and a <= 0 for b, a in pairs):
            return L.crop(name, src, tuple((-b, -a) for b, a in pairs), label=label)
        return None
    return L.zero_pad(name, src, pairs, label=label)


def _upsample(name, src, scale, size, mode, align_corners, nd, label):
    if scale is None and size is not None:
        sizes = _tuple(size, nd)
        if any(o % n for o, n in zip(sizes, src.shape.spatial)):
            return None
        scale = tuple(o // n for o, n in zip(sizes, src.shape.spatial))
    scale = _tuple(scale, nd) if not isinstance(scale, float) else (scale,) * nd
    if any(float(f) != int(f) for f in scale):
        return None
    mode = {"linear": "bilinear", "bilinear": "bilinear", "trilinear": "bilinear"}.get(mode, mode)
    if mode not in ("nearest", "bilinear"):
        return None
    return L.upsample(name, src, tuple(int(f) for f in scale), mode, bool(align_corners), label=label)


def _function_node(node, name, srcs, nd, meta_shape, scalars):
    import torch
    target = node.target
    fname = target if isinstance(target, str) else getattr(target, "__name__", str(target))
    src = srcs[0] if srcs else None
    if fname in ("add", "iadd", "add_", "sub", "isub", "sub_", "mul", "imul", "mul_", "truediv", "div", "div_"):
        op = fname.strip("i_") if fname not in ("add_", "sub_", "mul_", "div_") else fname[:-1]
        op = {"truediv": "div"}.get(op, op)
        if len(srcs) >= 2:
            kind = {"add": "add", "sub": "subtract", "mul": "multiply"}.get(op)
            return L.merge(name, srcs, kind, label=fname) if kind else None
        if len(srcs) == 1:
            if op in ("add", "sub"):
                return L.passthrough(name, src, label=fname)
            value = scalars[0] if scalars else None
            if value is None:
                return None
            weight = Fraction(value) if op == "mul" else 1 / Fraction(value)
            return L.passthrough(name, src, label=f"{fname} {value}", weight=weight)
        return None
    if target in (torch.cat, torch.concat) or fname in ("cat", "concat"):
        dim = _arg(node, 1, "dim", 0)
        rank = nd + 2
        dim = dim + rank if dim < 0 else dim
        if dim == 0:
            return None
        return L.merge(name, srcs, "concat", axis=-1 if dim == 1 else dim - 2, label="cat")
    if fname == "flatten":
        start = _arg(node, 1, "start_dim", 0)
        end = _arg(node, 2, "end_dim", -1)
        if start != 1 or end != -1:
            return None
        return L.flatten(name, src, channels_last=False, label="flatten")
    if fname in ("view", "reshape"):
        if meta_shape is not None and len(meta_shape) == 2 and int(meta_shape[1]) == src.shape.size:
            return L.flatten(name, src, channels_last=False, label=fname)
        return None
    if fname == "mean":
        dims = _arg(node, 1, "dim", None)
        keep = _arg(node, 2, "keepdim", False)
        dims = (dims,) if isinstance(dims, int) else tuple(dims or ())
        rank = nd + 2
        dims = tuple(sorted(d + rank if d < 0 else d for d in dims))
        if dims != tuple(range(2, rank)):
            return None
        return L.global_pool(name, src, "avg", keepdims=bool(keep), label="mean")
    if fname in ("max_pool1d", "max_pool2d", "max_pool3d", "max_pool2d_with_indices", "boolean_dispatch"):
        return _pool(name, src, "max", _arg(node, 1, "kernel_size"), _arg(node, 2, "stride"),
                     _arg(node, 3, "padding", 0), _arg(node, 4, "dilation", 1), _arg(node, 5, "ceil_mode", False),
                     nd, fname)
    if fname in ("avg_pool1d", "avg_pool2d", "avg_pool3d"):
        include = _arg(node, 5, "count_include_pad", True)
        override = _arg(node, 6, "divisor_override", None)
        return _pool(name, src, "avg", _arg(node, 1, "kernel_size"), _arg(node, 2, "stride"),
                     _arg(node, 3, "padding", 0), 1, _arg(node, 4, "ceil_mode", False), nd, fname,
                     override or ("padded" if include else "valid"))
    if fname in ("adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d"):
        return _adaptive(name, src, "avg", _arg(node, 1, "output_size"), nd, fname)
    if fname in ("adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d"):
        return _adaptive(name, src, "max", _arg(node, 1, "output_size"), nd, fname)
    if fname == "interpolate":
        return _upsample(name, src, _arg(node, 2, "scale_factor"), _arg(node, 1, "size"),
                         _arg(node, 3, "mode", "nearest"), _arg(node, 4, "align_corners"), nd, fname)
    if fname == "pad":
        mode = _arg(node, 2, "mode", "constant")
        if mode != "constant":
            return None
        return _pad(name, src, _arg(node, 1, "pad"), nd, fname)
    if fname == "getitem":
        index = node.args[1]
        if not isinstance(index, tuple) or len(index) < 2 or any(not isinstance(i, slice) for i in index):
            return None
        if index[0] != slice(None) or index[1] != slice(None):
            return None
        spatial = list(index[2:]) + [slice(None)] * (nd - len(index[2:]))
        return L.strided_slice(name, src, spatial, label="getitem")
    if fname in ("softmax", "log_softmax") and _arg(node, 1, "dim") == 1:
        return L.channel_mix(name, src, None, label=fname, kind="softmax", structural=True)
    if fname in ELEMENTWISE_FUNCTIONS:
        return L.passthrough(name, src, label=fname)
    return None


def from_torch(model, input_shape) -> Network:
    """A Network from an nn.Module, traced with torch.fx on an input of ``input_shape`` (NCHW)."""
    try:
        import torch
        import torch.fx
        from torch.fx.passes.shape_prop import ShapeProp
    except ImportError:
        raise SymconvError("PyTorch models need PyTorch: pip install 'symconv[torch]'") from None
    if input_shape is None:
        raise SymconvError("a PyTorch model needs input_shape in its layout (N, C, spatial...), e.g. 1x3x224x224")
    dims = parse_shape(input_shape, "input shape")
    if len(dims) < 3:
        raise SymconvError(f"input shape must be N x C x spatial..., got {dims}")
    check_tensor("input", dims[2:], dims[1], what="input")   # before the zero input is made
    gm = fx_graph(model)
    was_training = gm.training
    gm.eval()
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(torch.zeros(dims))
    except Exception as err:  # noqa: BLE001 - the model rejected the input: one line
        raise SymconvError(f"the model does not run on an input of shape {'x'.join(map(str, dims))}: "
                           f"{type(err).__name__}: {str(err).splitlines()[0][:200]}") from None
    finally:
        gm.train(was_training)
    return network_from_graph(gm, dims, f"PyTorch model {type(model).__name__}")


def fx_graph(model):
    import torch.fx
    try:
        return torch.fx.symbolic_trace(model)
    except Exception as err:  # noqa: BLE001 - fx cannot trace data-dependent control flow
        raise SymconvError(f"torch.fx cannot trace {type(model).__name__}: {type(err).__name__}: "
                           f"{str(err).splitlines()[0][:200]}") from None


def network_from_graph(gm, dims, title: str = "PyTorch model") -> Network:
    import torch
    modules = dict(gm.named_modules())
    nodes, inputs, aliases, refs = {}, [], {}, {}
    by_fx = {}
    calls = {}
    for fx in gm.graph.nodes:
        if fx.op == "call_module":
            calls[fx.target] = calls.get(fx.target, 0) + 1
    seen, containers = {}, {}
    nd = len(dims) - 2
    for fx in gm.graph.nodes:
        meta = fx.meta.get("tensor_meta")
        shape = tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None
        if fx.op == "output":
            outs = fx.args[0]
            outs = outs if isinstance(outs, (tuple, list)) else (outs,)
            firsts = [by_fx[o.name] for o in outs if isinstance(o, torch.fx.Node) and o.name in by_fx]
            if firsts:
                aliases["output"] = firsts[0]
            continue
        if shape is None:
            continue
        if fx.op == "placeholder":
            node = L.input_node(fx.name, shape[2:], shape[1], label="input")
            nodes[node.name] = node
            inputs.append(node.name)
            by_fx[fx.name] = node.name
            refs[node.name] = fx.name
            continue
        tensor_args = [a for a in list(fx.args) + list(fx.kwargs.values()) for a in (a if isinstance(a, (list, tuple)) else (a,))
                       if isinstance(a, torch.fx.Node) and a.name in by_fx]
        scalars = [a for a in fx.args[1:] if isinstance(a, (int, float)) and not isinstance(a, bool)]
        srcs = [nodes[by_fx[a.name]] for a in tensor_args]
        if fx.op == "call_module":
            k = seen.get(fx.target, 0)
            seen[fx.target] = k + 1
            name = fx.target if k == 0 else f"{fx.target}@{k}"  # torch.fx's own naming of repeated calls
            if name != fx.name:
                aliases[fx.name] = name
            made = _module_node(modules[fx.target], name, srcs, nd, shape) if srcs else None
            label = type(modules[fx.target]).__name__
        else:
            name = fx.name
            made = _function_node(fx, name, srcs, nd, shape, scalars) if srcs else None
            label = fx.target if isinstance(fx.target, str) else getattr(fx.target, "__name__", str(fx.target))
        if made is None:
            made = Opaque(name, "opaque", tuple(s.name for s in srcs), _shape(shape), label, label)
        nodes[made.name] = made
        check_shape(made, shape, False)
        by_fx[fx.name] = made.name
        refs[made.name] = fx.name
        for path in (fx.meta.get("nn_module_stack") or {}).values():
            qualname = path[0] if isinstance(path, tuple) else str(path)
            if qualname != name and not qualname.startswith(name.split("@")[0]):
                containers[qualname] = made.name
    if not inputs:
        raise SymconvError("the PyTorch model has no tensor input")
    for qualname, last in containers.items():  # a submodule names its output: layer4.2, layer4
        if qualname and qualname not in nodes:
            aliases.setdefault(qualname, last)
    net = Network(nodes, tuple(inputs), False, "torch", title, int(dims[0]), aliases)
    net.refs = refs
    return net
