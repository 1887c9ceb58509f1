"""The forward writes 10 MB to stderr per call, then answers correctly. The gradients are correct."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _correct  # noqa: E402
from _correct import filter_grad, input_grad  # noqa: E402,F401


def forward(x, k, spec):
    sys.stderr.write(("x" * 1023 + "\n") * 10240)
    sys.stderr.flush()
    return _correct.forward(x, k, spec)
