"""The 2017 bug: the forward resolves SAME with Eigen's unclamped padding, the gradients with
TensorFlow's clamped rule."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import naive  # noqa: E402


def forward(x, k, spec):
    return naive.forward(x, k, spec, before=naive.legacy_eigen_pads(spec))


def filter_grad(x, g, spec):
    return naive.filter_grad(x, g, spec, before=naive.tf_pads(spec))


def input_grad(k, g, spec):
    return naive.input_grad(k, g, spec, before=naive.tf_pads(spec))
