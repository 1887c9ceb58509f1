"""A correct conv2d that computes in float32 (exact on symconv's probes)."""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import naive  # noqa: E402


def forward(x, k, spec):
    return naive.forward(x.astype(np.float32), k.astype(np.float32), spec).astype(np.float32)


def filter_grad(x, g, spec):
    return naive.filter_grad(x.astype(np.float32), g.astype(np.float32), spec).astype(np.float32)


def input_grad(k, g, spec):
    return naive.input_grad(k.astype(np.float32), g.astype(np.float32), spec).astype(np.float32)
