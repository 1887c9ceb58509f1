"""Layouts as data: one permutation per tensor, computed once in the spec (as JAX's dimension
numbers are), and everything that moves arrays and index rows with them.

A spec's tensor is stored in a layout named by letters: activations by their data format
(``NHWC``, ``NCW``, ...: N batch, C channels, D/H/W spatial), kernels by their kernel layout
(``HWIO``, ``OIHW``, ``HWOI``, ``IOHW``, ...: I the op's input (x) channels, O its output (y)
channels; a depthwise kernel may also say ``HWCM``: channel and multiplier, y channel c*M + m).
Inside, every tensor has one *canonical* order, that of the direct convolution behind the op
(see ``symconv.quantities``): activations (N, C, spatial...), kernels (direct output channels,
direct input channels per group, spatial...).  A spec's array is a plain permutation of its
canonical array once C, M are merged into I = 1, O = C*M (``stored_view``, a reshape):
``stored = np.transpose(canonical, permutation)``.  Index arrays hold one entry per row.

>>> from symconv.model.spec import ConvSpec
>>> spec = ConvSpec("conv2d", "1x5x5x2", "3x3x2x4")
>>> letters(spec, "x"), letters(spec, "k"), permutation(spec, "k")
('NHWC', 'HWIO', (2, 3, 1, 0))
>>> letters(ConvSpec("conv2d_transpose", "1x3x3x2", "2x4x3x3", kernel_layout="IOHW"), "k")
'OIHW'
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from ..errors import SymconvError, shown
from .quantities import LAYOUT_OF

SPATIAL_LETTERS = "DHW"
# A depthwise kernel's (channel, multiplier) pair, and the (I, O) pair it is stored as.
SPLIT_CHANNELS, MERGED_CHANNELS = "CM", "IO"


def spatial_letters(ndim: int) -> str:
    """W; H, W; D, H, W: the spatial letters of ndim axes, in canonical order."""
    return SPATIAL_LETTERS[len(SPATIAL_LETTERS) - ndim:]


# Kernel layouts by framework, per op kind ("{}" stands for the spatial letters): TensorFlow's
# are the defaults.  I and O are the op's input (x) and output (y) channels, each per group on
# the side the groups split (I for a convolution, O for a transposed one); C and M a depthwise
# kernel's channel and multiplier (y channel c*M + m).  PyTorch's (and ONNX's) depthwise kernel
# is its grouped convolution's, I = 1.
KERNEL_LAYOUTS = {
    "tf": {"conv": "{}IO", "depthwise": "{}CM", "transpose": "{}OI"},
    "torch": {"conv": "OI{}", "depthwise": "OI{}", "transpose": "IO{}"},
}
KERNEL_LAYOUTS["keras"] = KERNEL_LAYOUTS["tf"]
KERNEL_LAYOUTS["onnx"] = KERNEL_LAYOUTS["torch"]
DEFAULT_KERNEL_LAYOUT = "tf"


def kernel_layout_letters(value, op: str, ndim: int, kind: str) -> str:
    """A kernel layout by letters or by a framework's name -> its letters for an op of ``ndim``
    spatial axes and ``kind``; None is TensorFlow's."""
    spatial = spatial_letters(ndim)
    examples = " or ".join(dict.fromkeys(KERNEL_LAYOUTS[name][kind].format(spatial) for name in ("tf", "torch")))
    if value is None:
        return KERNEL_LAYOUTS[DEFAULT_KERNEL_LAYOUT][kind].format(spatial)
    if not isinstance(value, str):
        raise SymconvError(f"kernel layout must be letters such as {examples}, got {shown(value)}")
    named = KERNEL_LAYOUTS.get(value.strip().lower())
    letters = named[kind].format(spatial) if named else value.strip().upper()
    allowed = [set(spatial + "IO")] + ([set(spatial + SPLIT_CHANNELS)] if kind == "depthwise" else [])
    split = SPLIT_CHANNELS
    if len(letters) != len(set(letters)) or set(letters) not in allowed \
            or (split[0] in letters and split not in letters):
        also = f" (or {spatial}CM-style with C directly before M)" if kind == "depthwise" else ""
        names = ", ".join(spatial + "I") + " and O"
        raise SymconvError(f"kernel layout for {op} must be a permutation of {names} such as "
                           f"{examples}{also}, or tf or torch, got {shown(value)}")
    return letters


class Layout(NamedTuple):
    """One tensor's layout: its letters, those of its stored view, the stored view's shape and,
    for each stored axis, the canonical axis it holds."""

    letters: str
    stored: str
    stored_shape: tuple
    permutation: tuple

    def size(self, letter: str) -> int:
        """The size of one axis of the stored view, by letter."""
        return self.stored_shape[self.stored.index(letter)]

    def axis(self, letter: str) -> int:
        """The position of one axis (by its letter) in the spec's array."""
        return self.letters.index(letter)


def arrange(letters: str, canonical: str, shape) -> Layout:
    """The layout of an array of ``shape`` in ``letters`` whose canonical order is ``canonical``."""
    stored, sizes = letters, list(shape)
    if SPLIT_CHANNELS in letters:
        at = letters.index(SPLIT_CHANNELS)
        stored = letters.replace(SPLIT_CHANNELS, MERGED_CHANNELS)
        sizes[at:at + 2] = [1, shape[at] * shape[at + 1]]
    return Layout(letters, stored, tuple(sizes), tuple(canonical.index(letter) for letter in stored))


def of(spec, tensor: str) -> Layout:
    """The layout of x, k, y, g, dx or dk (g and dy share y's; dx x's; dk k's)."""
    return spec.layouts[LAYOUT_OF[tensor]]


def roles(spec) -> dict[str, str]:
    """The part each tensor (x, k, y, g) plays in the direct convolution behind the op:
    'direct_input', 'direct_output' or 'kernel'."""
    return {tensor: spec.role(tensor) for tensor in ("x", "k", "y", "g")}


def permutation(spec, tensor: str) -> tuple:
    """For each axis of the spec's (stored-view) array, the canonical axis it holds:
    ``stored = np.transpose(canonical, permutation)``."""
    return of(spec, tensor).permutation


def letters(spec, tensor: str) -> str:
    """The stored view's layout as JAX's dimension numbers spell it: N, C and spatial letters
    for activations; for kernels O for the direct convolution's output channels, I for its input
    channels (a transposed convolution's kernel is spelled as its direct convolution's)."""
    spatial = spatial_letters(spec.ndim)
    canonical = ("OI" if spec.role(tensor) == "kernel" else "NC") + spatial
    return "".join(canonical[axis] for axis in permutation(spec, tensor))


def spatial_axes(spec, tensor: str) -> tuple:
    """The positions of the spatial axes (in canonical order D, H, W) in the spec's array."""
    layout = of(spec, tensor)
    return tuple(layout.axis(letter) for letter in spatial_letters(spec.ndim))


def channel_axis(spec, tensor: str) -> int:
    """The position of an activation's channel axis in the spec's array."""
    return of(spec, tensor).axis("C")


def stored_view(spec, tensor: str, array):
    """The spec's array as a plain permutation of the canonical one (a view or reshape)."""
    shape = of(spec, tensor).stored_shape
    return array if tuple(array.shape) == shape else array.reshape(shape)


def from_stored_view(spec, tensor: str, array):
    """The inverse of ``stored_view``: back to the spec's shape for the tensor (an array of
    another size, as a broken backend may return, is left as it is for the caller to report)."""
    shape = tuple(spec.shape_of(tensor))
    if tuple(array.shape) != shape and array.size == int(np.prod(shape)):
        return array.reshape(shape)
    return array


@functools.lru_cache(maxsize=256)
def inverse(axes: tuple) -> tuple:
    """The inverse permutation: ``np.transpose(stored, inverse(permutation(...)))`` is the
    canonical array."""
    return tuple(int(i) for i in np.argsort(axes))


# ---- index arrays -----------------------------------------------------------------------

def index_to_user(spec, tensor: str, canon: np.ndarray) -> np.ndarray:
    """(T, 2 + nd) canonical rows -> rows in the tensor's own layout."""
    layout = of(spec, tensor)
    stored = np.asarray(canon)[:, list(layout.permutation)]
    shape = tuple(spec.shape_of(tensor))
    if layout.stored_shape == shape or not len(stored):
        return stored
    flat = np.ravel_multi_index(tuple(stored.T), layout.stored_shape)
    return np.stack(np.unravel_index(flat, shape), axis=1).astype(np.int64)


def index_from_user(spec, tensor: str, user: np.ndarray) -> np.ndarray:
    """Rows in the tensor's own layout -> (T, 2 + nd) canonical rows."""
    layout = of(spec, tensor)
    user = np.asarray(user)
    shape = tuple(spec.shape_of(tensor))
    if layout.stored_shape != shape and len(user):
        flat = np.ravel_multi_index(tuple(user.T), shape)
        user = np.stack(np.unravel_index(flat, layout.stored_shape), axis=1).astype(np.int64)
    return user[:, list(inverse(layout.permutation))]


# ---- arrays -------------------------------------------------------------------------------

def validated_array(spec, tensor: str, array) -> np.ndarray:
    """The array, after checking that it has the tensor's shape."""
    array = np.asarray(array)
    want = spec.shape_of(tensor)
    if array.shape != tuple(want):
        raise SymconvError(f"{tensor} must have shape {tuple(want)}, got {array.shape}")
    return array


def array_to_canonical(spec, tensor: str, array) -> np.ndarray:
    return _canonical(spec, tensor, validated_array(spec, tensor, array))


def _canonical(spec, tensor: str, array) -> np.ndarray:
    return np.transpose(stored_view(spec, tensor, array), inverse(permutation(spec, tensor)))


def array_from_canonical(spec, tensor: str, canon: np.ndarray) -> np.ndarray:
    return from_stored_view(spec, tensor, np.transpose(canon, permutation(spec, tensor)))


# The reference's and the probes' working order: activations channels last (N, spatial..., C),
# kernels (spatial..., direct input channels per group, direct output channels).
def _working(ndim: int, role: str) -> tuple:
    spatial = tuple(range(2, ndim + 2))
    return (*spatial, 1, 0) if role == "kernel" else (0, *spatial, 1)


def to_channels_last(spec, tensor: str, array) -> np.ndarray:
    """The spec's array in the working order: (N, spatial..., C), or for a kernel (spatial...,
    direct input channels per group, direct output channels)."""
    return np.transpose(_canonical(spec, tensor, np.asarray(array)), _working(spec.ndim, spec.role(tensor)))


def from_channels_last(spec, tensor: str, array) -> np.ndarray:
    """The inverse of ``to_channels_last``."""
    canon = np.transpose(array, inverse(_working(spec.ndim, spec.role(tensor))))
    return array_from_canonical(spec, tensor, canon)


def convert(spec, other, tensor: str, array) -> np.ndarray:
    """An array of ``spec``'s layout for ``tensor`` in ``other``'s (the same convolution in other
    layouts); an array of the wrong shape is returned as it is."""
    if of(spec, tensor).letters == of(other, tensor).letters:
        return array
    array = np.asarray(array)
    if array.shape != tuple(spec.shape_of(tensor)):
        return array
    return array_from_canonical(other, tensor, array_to_canonical(spec, tensor, array))
