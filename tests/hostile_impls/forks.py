"""The forward forks a grandchild that sleeps for a minute, then answers correctly. The gradients are correct."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _correct  # noqa: E402
from _correct import filter_grad, input_grad  # noqa: E402,F401


def forward(x, k, spec):
    if os.fork() == 0:
        time.sleep(60)
        os._exit(0)
    return _correct.forward(x, k, spec)
