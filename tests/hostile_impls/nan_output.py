"""The forward returns NaN in its first entry and infinity in its last. The gradients are correct."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _correct  # noqa: E402
import numpy as np  # noqa: E402
from _correct import filter_grad, input_grad  # noqa: E402,F401


def forward(x, k, spec):
    y = np.array(_correct.forward(x, k, spec), dtype=np.float64)
    y.flat[0] = np.nan
    y.flat[-1] = np.inf
    return y
