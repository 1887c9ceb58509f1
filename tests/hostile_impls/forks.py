"""The forward forks a grandchild that sleeps for a minute, then answers correctly; the gradients
are correct.  With FORK_PID_FILE set, the grandchild writes its pid there."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _correct  # noqa: E402
from _correct import filter_grad, input_grad  # noqa: E402,F401


def forward(x, k, spec):
    if os.fork() == 0:
        if os.environ.get("FORK_PID_FILE"):
            with open(os.environ["FORK_PID_FILE"], "a") as out:
                out.write(f"{os.getpid()}\n")
        time.sleep(60)
        os._exit(0)
    return _correct.forward(x, k, spec)
