"""The forward double-forks: its child leaves the worker's process group and session
(os.setsid), starts `sleep 300` and exits, so the sleep is orphaned outside every group symconv
knows.  With FORK_PID_FILE set, the sleep's pid is written there.  The answers are correct."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _correct  # noqa: E402
from _correct import filter_grad, input_grad  # noqa: E402,F401


def forward(x, k, spec):
    child = os.fork()
    if child == 0:
        try:
            os.setsid()
            sleeper = subprocess.Popen(["sleep", "300"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
            if os.environ.get("FORK_PID_FILE"):
                with open(os.environ["FORK_PID_FILE"], "a") as out:
                    out.write(f"{sleeper.pid}\n")
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    return _correct.forward(x, k, spec)
