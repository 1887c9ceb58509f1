"""A TensorFlow layer (NHWC, HWIO, SAME) ported to PyTorch by hand, with padding=3 for its 7x7 kernel:
PyTorch pads both sides alike, while TensorFlow's SAME at stride 2 pads 2 before and 3 after, so
every window starts one pixel earlier than TensorFlow's."""

import numpy as np
import torch
import torch.nn.functional as F


def _nchw(a):
    return torch.as_tensor(np.asarray(a, dtype=np.float64)).permute(0, 3, 1, 2)


def _oihw(k):
    return torch.as_tensor(np.asarray(k, dtype=np.float64)).permute(3, 2, 0, 1)


def forward(x, k, spec):
    y = F.conv2d(_nchw(x), _oihw(k), stride=spec.strides, padding=3)
    return y.permute(0, 2, 3, 1).numpy()


def filter_grad(x, g, spec):
    kh, kw, c_in, c_out = spec.kernel_shape
    dk = torch.nn.grad.conv2d_weight(_nchw(x), (c_out, c_in, kh, kw), _nchw(g), stride=spec.strides, padding=3)
    return dk.permute(2, 3, 1, 0).numpy()


def input_grad(k, g, spec):
    n, h, w, c = spec.x_shape
    dx = torch.nn.grad.conv2d_input((n, c, h, w), _oihw(k), _nchw(g), stride=spec.strides, padding=3)
    return dx.permute(0, 2, 3, 1).numpy()
