"""The forward creates the file SLEEP_MARKER names (if set), sleeps 30 s,
then answers correctly; the gradients are correct.  Used to interrupt a run mid-call."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _correct  # noqa: E402
from _correct import filter_grad, input_grad  # noqa: E402,F401


def forward(x, k, spec):
    if os.environ.get("SLEEP_MARKER"):
        open(os.environ["SLEEP_MARKER"], "w").close()
    time.sleep(30)
    return _correct.forward(x, k, spec)
