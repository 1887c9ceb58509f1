"""The child process behind ChildRunner: loads one backend, then answers calls over stdin/stdout.

Its real stdout is kept for the protocol; anything the framework prints goes to stderr.
"""

from __future__ import annotations

import os
import sys

from .base import Outcome
from .runner import _receive, _send


def main() -> int:
    protocol = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # stray prints must not corrupt the protocol
    sys.stdout = sys.stderr
    backends = {}
    while True:
        message = _receive(0, None)
        if message is None or message[0] == "exit":
            return 0
        kind, (key, payload) = message
        if kind == "init":
            try:
                payload.load()
            except Exception as err:  # reported to the parent as one line
                first = (str(err).strip().splitlines() or [""])[0]
                _send(protocol, ("error", f"{type(err).__name__}: {first}"))
                continue
            backends[key] = payload
            _send(protocol, ("ready", None))
        else:
            backend = backends.get(key)
            _send(protocol, backend.execute(payload) if backend is not None
                  else Outcome("error", error_type="LoadError", message="backend not loaded"))


if __name__ == "__main__":
    sys.exit(main())
