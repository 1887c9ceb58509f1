"""The child process behind ChildRunner: loads backends, then answers calls over stdin/stdout.

Its real stdout and stdin are kept for the protocol on private descriptors; fd 1 becomes
stderr (stray prints must not corrupt the protocol) and fd 0 /dev/null (a subprocess of the
backend must not read the next request).  It is a child subreaper (Linux), so that the orphans
of what a backend starts stay below it, where the parent finds them when it stops the worker
(``symconv.backends.processes``).  It dies with its parent: PR_SET_PDEATHSIG on Linux
when the parent started it from its main thread (the signal fires when the starting *thread*
ends), and everywhere a watchdog thread that notices within a second that the parent is gone.  A
process forked by the backend never speaks the protocol: it exits when its call returns.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

from .base import Outcome
from .processes import become_subreaper
from .runner import _receive, _send

PR_SET_PDEATHSIG = 1
WATCH_SECONDS = 1.0


def die_with_parent(parent: int, death_signal: bool = True) -> None:
    """End this process when its parent (pid ``parent``) ends."""
    if death_signal and sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent ended before prctl took effect
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), daemon=True, name="symconv-parent-watch").start()


def _watch(parent: int) -> None:
    while True:
        time.sleep(WATCH_SECONDS)
        if os.getppid() != parent:
            os._exit(1)


def main() -> int:
    parent = int(os.environ.get("SYMCONV_PARENT_PID", os.getppid()))
    die_with_parent(parent, os.environ.get("SYMCONV_PARENT_DEATH_SIGNAL", "1") == "1")
    become_subreaper()
    requests, replies = os.dup(0), os.dup(1)  # not inherited by anything the backend starts
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    me = os.getpid()
    backends = {}
    while True:
        message = _receive(requests, None)
        if message is None or message[0] == "exit":
            return 0
        kind, (key, payload) = message
        if kind == "init":
            reply = _load(payload)
            if reply[0] == "ready":
                backends[key] = payload
        else:
            backend = backends.get(key)
            reply = backend.execute(payload) if backend is not None else \
                Outcome("error", error_type="LoadError", message="backend not loaded")
        if os.getpid() != me:  # a copy forked by the backend: only the worker itself answers
            os._exit(0)
        _send(replies, reply)


def _load(backend) -> tuple:
    from ..errors import SymconvError
    try:
        backend.load()
        manifest = getattr(backend, "manifest", None)   # a Backend's; a guest of the worker may have none
        return "ready", manifest() if callable(manifest) else None
    except SymconvError as err:  # a usage error (a bad --impl file): the parent raises it
        return "usage", str(err)
    except Exception as err:  # reported to the parent as one line
        first = (str(err).strip().splitlines() or [""])[0]
        return "error", f"{type(err).__name__}: {first[:300]}"
    except SystemExit as err:
        return "error", f"SystemExit: loading called sys.exit({err.code!r})"


if __name__ == "__main__":
    sys.exit(main())
