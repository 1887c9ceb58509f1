"""Moves arrays and index arrays between a spec's own layouts and the canonical order.

Canonical: activations (N, C, spatial...), kernels (C_small, C_big // groups, spatial...),
where "big" and "small" are the input and output of the direct convolution behind the op
(see spec.py).  Index arrays hold one entry per row.
"""

from __future__ import annotations

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


# ---- arrays -------------------------------------------------------------------------------

def check_array(spec, tensor: str, array) -> np.ndarray:
    array = np.asarray(array)
    want = spec.shape_of(tensor)
    if array.shape != tuple(want):
        raise SymconvError(f"{tensor} must have shape {tuple(want)}, got {array.shape}")
    return array


def array_to_canonical(spec, tensor: str, array) -> np.ndarray:
    array = check_array(spec, tensor, array)
    nd = spec.ndim
    if roles(spec)[tensor] != "kernel":
        return np.moveaxis(array, -1, 1) if spec.channels_last else array
    canon = np.moveaxis(array, (nd + 1, nd), (0, 1))  # (K..., ci, co) -> (co, ci, K...)
    if spec.kind == "depthwise":  # (K..., c, m) -> (c*m, 1, K...)
        canon = canon.swapaxes(0, 1).reshape((-1, 1) + spec.kernel_spatial)
    return canon


def array_from_canonical(spec, tensor: str, canon: np.ndarray) -> np.ndarray:
    nd = spec.ndim
    if roles(spec)[tensor] != "kernel":
        return np.moveaxis(canon, 1, -1) if spec.channels_last else canon
    if spec.kind == "depthwise":
        c, m = spec.kernel_shape[-2:]
        canon = canon.reshape((c, m) + spec.kernel_spatial).swapaxes(0, 1)
    return np.moveaxis(canon, (0, 1), (nd + 1, nd))
