"""The forward returns a boolean array. The gradients are correct."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _correct  # noqa: E402
import numpy as np  # noqa: E402
from _correct import filter_grad, input_grad  # noqa: E402,F401


def forward(x, k, spec):
    return np.asarray(_correct.forward(x, k, spec)) != 0
