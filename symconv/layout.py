"""Moves arrays and index arrays between a spec's own layouts and the canonical order.

Canonical: activations (N, C, spatial...), kernels (C_small, C_big // groups, spatial...),
where "big" and "small" are the input and output of the direct convolution behind the op
(see spec.py).  Index arrays hold one entry per row.
"""

from __future__ import annotations

import functools

import numpy as np

from .errors import SymconvError


def roles(spec) -> dict[str, str]:
    """Which canonical role ('big', 'small', 'kernel') each user tensor plays."""
    if spec.kind == "transpose":
        return {"x": "small", "y": "big", "g": "big", "k": "kernel"}
    return {"x": "big", "y": "small", "g": "small", "k": "kernel"}


# ---- index arrays -----------------------------------------------------------------------

def activation_to_user(spec, canon: np.ndarray) -> np.ndarray:
    """(T, 2 + nd) rows (n, c, p...) -> rows in the spec's data format."""
    if spec.channels_last:
        return np.concatenate([canon[:, :1], canon[:, 2:], canon[:, 1:2]], axis=1)
    return canon


def activation_from_user(spec, user: np.ndarray) -> np.ndarray:
    if spec.channels_last:
        return np.concatenate([user[:, :1], user[:, -1:], user[:, 1:-1]], axis=1)
    return user


def kernel_to_user(spec, canon: np.ndarray) -> np.ndarray:
    """(T, 2 + nd) rows (c_small, c_big_local, a...) -> rows in TensorFlow's kernel layout."""
    spatial = canon[:, 2:]
    if spec.kind == "depthwise":
        mult = spec.kernel_shape[-1]
        return np.concatenate([spatial, canon[:, :1] // mult, canon[:, :1] % mult], axis=1)
    return np.concatenate([spatial, canon[:, 1:2], canon[:, :1]], axis=1)


def kernel_from_user(spec, user: np.ndarray) -> np.ndarray:
    nd = spec.ndim
    spatial = user[:, :nd]
    if spec.kind == "depthwise":
        mult = spec.kernel_shape[-1]
        small = user[:, nd:nd + 1] * mult + user[:, nd + 1:nd + 2]
        return np.concatenate([small, np.zeros_like(small), spatial], axis=1)
    return np.concatenate([user[:, nd + 1:nd + 2], user[:, nd:nd + 1], spatial], axis=1)


def index_to_user(spec, tensor: str, canon: np.ndarray) -> np.ndarray:
    if roles(spec)[tensor] == "kernel":
        return kernel_to_user(spec, canon)
    return activation_to_user(spec, canon)


def index_from_user(spec, tensor: str, user: np.ndarray) -> np.ndarray:
    if roles(spec)[tensor] == "kernel":
        return kernel_from_user(spec, user)
    return activation_from_user(spec, user)


# ---- layouts as permutations ----------------------------------------------------------------
# A spec's array is a permutation of the canonical array (a depthwise kernel after its last two
# axes (C, M) are merged into one (1, C*M) pair: stored_view).  Frameworks that take layouts as
# data (JAX's dimension numbers, strided tensors) are handed these, never a branch per layout.

SPATIAL_LETTERS = "DHW"


def permutation(spec, tensor: str) -> tuple:
    """For each axis of the spec's (stored-view) array, the canonical axis it holds:
    ``stored = np.transpose(canonical, permutation)``."""
    nd = spec.ndim
    spatial = tuple(range(2, nd + 2))
    if roles(spec)[tensor] == "kernel":
        return (*spatial, 1, 0)
    return (0, *spatial, 1) if spec.channels_last else (0, 1, *spatial)


def letters(spec, tensor: str) -> str:
    """The layout as a string of axis letters, as JAX's dimension numbers spell it: N, C and
    spatial letters for activations, O (small side), I (big side) and spatial for kernels.

    >>> from symconv.spec import ConvSpec
    >>> spec = ConvSpec("conv2d", "1x5x5x2", "3x3x2x4")
    >>> letters(spec, "x"), letters(spec, "k"), letters(spec, "y")
    ('NHWC', 'HWIO', 'NHWC')
    """
    spatial = SPATIAL_LETTERS[len(SPATIAL_LETTERS) - spec.ndim:]
    canonical = ("OI" if roles(spec)[tensor] == "kernel" else "NC") + spatial
    return "".join(canonical[axis] for axis in permutation(spec, tensor))


def stored_view(spec, tensor: str, array):
    """The spec's array as a plain permutation of the canonical one (a view or reshape)."""
    if roles(spec)[tensor] == "kernel" and spec.kind == "depthwise":
        return array.reshape(tuple(array.shape[:-2]) + (1, -1))
    return array


def from_stored_view(spec, tensor: str, array):
    """The inverse of ``stored_view``: back to the spec's shape for the tensor (an array of
    another size, as a broken backend may return, is left as it is for the caller to report)."""
    shape = spec.shape_of(tensor)
    if roles(spec)[tensor] == "kernel" and spec.kind == "depthwise" and array.size == int(np.prod(shape)):
        return array.reshape(shape)
    return array


@functools.lru_cache(maxsize=64)
def inverse(axes: tuple) -> tuple:
    """The inverse permutation: ``np.transpose(stored, inverse(permutation(...)))`` is the
    canonical array."""
    return tuple(int(i) for i in np.argsort(axes))


# ---- arrays -------------------------------------------------------------------------------

def check_array(spec, tensor: str, array) -> np.ndarray:
    array = np.asarray(array)
    want = spec.shape_of(tensor)
    if array.shape != tuple(want):
        raise SymconvError(f"{tensor} must have shape {tuple(want)}, got {array.shape}")
    return array


def array_to_canonical(spec, tensor: str, array) -> np.ndarray:
    array = check_array(spec, tensor, array)
    return np.transpose(stored_view(spec, tensor, array), inverse(permutation(spec, tensor)))


def array_from_canonical(spec, tensor: str, canon: np.ndarray) -> np.ndarray:
    return from_stored_view(spec, tensor, np.transpose(canon, permutation(spec, tensor)))
