"""The forward returns a different shape on every call. The gradients are correct."""

import itertools
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _correct  # noqa: E402
import numpy as np  # noqa: E402
from _correct import filter_grad, input_grad  # noqa: E402,F401

_calls = itertools.count(1)


def forward(x, k, spec):
    return np.zeros((next(_calls),) * 2)
