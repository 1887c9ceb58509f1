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


class ChildRunner(Runner):
    """Calls the backend in a child process with the variant's environment."""

    isolated = True

    def __init__(self, backend, timeout: float | None = None):
        super().__init__(backend)
        self.timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
        self.process = None
        self._stderr_tail = collections.deque(maxlen=40)
        self._reader = None
        self._load_failure = None
        self.restarts = 0

    def environment(self) -> dict:
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        variant = self.backend.variant
        if variant.onednn is not None:
            env["TF_ENABLE_ONEDNN_OPTS"] = "1" if variant.onednn else "0"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _start(self) -> str | None:
        self._stderr_tail.clear()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "symconv.backends.worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.environment(), bufsize=0)
        self._reader = threading.Thread(target=self._drain, args=(self.process.stderr,), daemon=True)
        self._reader.start()
        try:
            _send(self.process.stdin, ("init", self.backend))
        except (BrokenPipeError, OSError):
            return self._death("while starting")
        try:
            reply = _receive(self.process.stdout.fileno(), time.monotonic() + max(self.timeout, START_TIMEOUT))
        except _TimedOut:
            return self._death("while starting", hung=True)
        if reply is None:
            return self._death("while starting")
        return None if reply[0] == "ready" else reply[1]

    def _drain(self, stream):
        for line in iter(stream.readline, b""):
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                self._stderr_tail.append(text)

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
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                stream.close()
            except OSError:
                pass
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

    def _run(self, calls):
        outcomes = []
        for call in calls:
            if self.process is None and self._load_failure is None:
                failure = self._start()
                if failure:
                    if self.process is not None:
                        self.close()
                    self._load_failure = failure
            if self._load_failure is not None:
                outcomes.append(Outcome("error", error_type="LoadError",
                                        message=f"backend failed to load: {self._load_failure}"))
                continue
            try:
                _send(self.process.stdin, ("call", call))
            except (BrokenPipeError, OSError):
                outcomes.append(Outcome("crash", message=self._death("before the call")))
                continue
            try:
                reply = _receive(self.process.stdout.fileno(), time.monotonic() + self.timeout)
            except _TimedOut:
                outcomes.append(Outcome("crash", message=self._death(f"during {call.quantity}", hung=True)))
                continue
            if reply is None:
                outcomes.append(Outcome("crash", message=self._death(f"during {call.quantity}")))
                continue
            outcomes.append(reply)
        return outcomes

    def close(self) -> None:
        proc, self.process = self.process, None
        if proc is None:
            return
        try:
            _send(proc.stdin, ("exit", None))
            proc.stdin.close()
            proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            try:
                stream.close()
            except OSError:
                pass
        if self._reader is not None:
            self._reader.join(timeout=2)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
