"""Runners execute backend calls, here or in a child process, and count them.

``LocalRunner`` calls the backend in this process: fastest, but a segfault in a framework
would end the caller too.  ``ChildRunner`` keeps one child process (``python -m
symconv.backends.worker``) with the variant's environment (TF_ENABLE_ONEDNN_OPTS must be set
before TensorFlow is imported; thread pools are fixed when it starts) and sends it calls over
a pipe.  If the child dies or does not answer in time, that call becomes a ``crash`` outcome
naming the signal and the child's last words on stderr, and the next call starts a fresh
child: the checker outlives what it checks.
"""

from __future__ import annotations

import collections
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time

from .base import Call, Outcome

DEFAULT_TIMEOUT = 600.0
START_TIMEOUT = 300.0


class Runner:
    def __init__(self, backend):
        self.backend = backend
        self.calls = collections.Counter()  # (quantity, path) -> backend calls made

    def run(self, calls: list[Call]) -> list[Outcome]:
        """Execute the calls in order; one outcome per call."""
        for call in calls:
            self.calls[(call.quantity, call.path)] += 1
        return self._run(calls)

    def _run(self, calls):
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class LocalRunner(Runner):
    """Calls the backend in this process."""

    isolated = False

    def __init__(self, backend):
        super().__init__(backend)
        self._loaded = None  # None: not yet; "" : loaded; text: why loading failed

    def _ensure_loaded(self):
        if self._loaded is None:
            try:
                self.backend.load()
                self._loaded = ""
            except Exception as err:
                first = (str(err).strip().splitlines() or [""])[0]
                self._loaded = f"{type(err).__name__}: {first}"
        return self._loaded

    def _run(self, calls):
        failure = self._ensure_loaded()
        if failure:
            return [Outcome("error", error_type="LoadError", message=f"backend failed to load: {failure}")
                    for _ in calls]
        return [self.backend.execute(call) for call in calls]


def _send(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)))
    stream.write(data)
    stream.flush()


class _TimedOut(Exception):
    pass


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes | None:
    """Read size bytes from fd; None on EOF; _TimedOut when the deadline passes."""
    chunks, got = [], 0
    while got < size:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise _TimedOut()
        chunk = os.read(fd, min(size - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _receive(fd: int, deadline: float | None):
    """The next message; None on EOF; raises _TimedOut."""
    head = _read_exact(fd, 8, deadline)
    if head is None:
        return None
    body = _read_exact(fd, struct.unpack("<Q", head)[0], deadline)
    return None if body is None else pickle.loads(body)


class Worker:
    """One child process, with the environment of one variant, hosting any number of backends
    (``ChildRunner``s of the same variant may share it: one TensorFlow start-up for all)."""

    def __init__(self, variant, timeout: float | None = None):
        self.variant = variant
        self.timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
        self.process = None
        self.restarts = 0
        self._stderr_tail = collections.deque(maxlen=40)
        self._reader = None
        self._loaded = {}      # backend key -> None (ready) or why it failed to load

    def accepts(self, variant) -> bool:
        """Whether a backend of that variant can run here: the settings read at start-up must
        match (the device and the other options are applied per call)."""
        return variant.startup == self.variant.startup

    def environment(self) -> dict:
        from .variants import variant_environment
        env = dict(os.environ)
        env.update(variant_environment(self.variant))
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _start(self) -> None:
        self._stderr_tail.clear()
        self._loaded = {key: why for key, why in self._loaded.items() if why is not None}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "symconv.backends.worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.environment(), bufsize=0)
        self._reader = threading.Thread(target=self._drain, args=(self.process.stderr,), daemon=True)
        self._reader.start()

    def _drain(self, stream):
        for line in iter(stream.readline, b""):
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                self._stderr_tail.append(text)

    def _exchange(self, message, deadline_s: float, when: str):
        """Send one message and wait for the answer: (reply, None) or (None, why it died)."""
        try:
            _send(self.process.stdin, message)
        except (BrokenPipeError, OSError):
            return None, self._death(when)
        try:
            reply = _receive(self.process.stdout.fileno(), time.monotonic() + deadline_s)
        except _TimedOut:
            return None, self._death(when, hung=True)
        return (reply, None) if reply is not None else (None, self._death(when))

    def _ensure(self, key, backend) -> str | None:
        """Start the process and load the backend in it, once; why that failed, or None."""
        if self.process is None:
            self._start()
        if key not in self._loaded:
            reply, died = self._exchange(("init", (key, backend)), max(self.timeout, START_TIMEOUT),
                                         "while starting")
            self._loaded[key] = died if died else (None if reply[0] == "ready" else reply[1])
        return self._loaded[key]

    def call(self, key, backend, call: Call) -> Outcome:
        failure = self._ensure(key, backend)
        if failure:
            return Outcome("error", error_type="LoadError", message=f"backend failed to load: {failure}")
        reply, died = self._exchange(("call", (key, call)), self.timeout, f"during {call.quantity}")
        return reply if died is None else Outcome("crash", message=died)

    def _death(self, when: str, hung: bool = False) -> str:
        """Stop the child (if it still runs) and describe how it ended."""
        proc, self.process = self.process, None
        if proc is None:
            return f"backend process ended {when}"
        if hung:
            proc.kill()
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=2)
        self._close_streams(proc)
        self.restarts += 1
        if hung:
            how = f"did not answer within {self.timeout:g} s and was stopped"
        elif code is not None and code < 0:
            try:
                how = f"died with signal {signal.Signals(-code).name}"
            except ValueError:
                how = f"died with signal {-code}"
        else:
            how = f"exited with status {code}"
        last = next((ln for ln in reversed(self._stderr_tail) if not ln.startswith("WARNING: All log")), "")
        return f"backend process {how} {when}" + (f"; its last message: {last[:300]}" if last else "")

    @staticmethod
    def _close_streams(proc):
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                stream.close()
            except OSError:
                pass

    def close(self) -> None:
        proc, self.process = self.process, None
        if proc is None:
            return
        try:
            _send(proc.stdin, ("exit", None))
            proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        self._close_streams(proc)
        if self._reader is not None:
            self._reader.join(timeout=2)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class ChildRunner(Runner):
    """Calls the backend in a child process with the variant's environment; ``worker`` shares
    one process between runners of the same variant (closing the runner then leaves it open)."""

    isolated = True

    def __init__(self, backend, timeout: float | None = None, worker: Worker | None = None):
        super().__init__(backend)
        self._own = worker is None
        self.worker = worker or Worker(backend.variant, timeout)
        if not self.worker.accepts(backend.variant):
            raise ValueError(f"a worker for {self.worker.variant} cannot run a backend for {backend.variant}")
        self.key = f"{backend.name}-{id(backend)}"

    @property
    def restarts(self) -> int:
        return self.worker.restarts

    def _run(self, calls):
        return [self.worker.call(self.key, self.backend, call) for call in calls]

    def close(self) -> None:
        if self._own:
            self.worker.close()
