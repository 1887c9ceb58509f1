"""Runners execute backend calls, here or in a child process, and count them.

``LocalRunner`` calls the backend in this process: fastest, but a hard crash in a framework
(a segfault, ``os._exit``) ends the caller too; ``sys.exit`` and KeyboardInterrupt raised by
the backend are caught and reported.  ``ChildRunner`` keeps one child process (``python -m
symconv.backends.worker``) with the variant's environment (TF_ENABLE_ONEDNN_OPTS must be set
before TensorFlow is imported; thread pools are fixed when it starts) and sends it calls over
a pipe.  If the child dies or does not answer in time, that call becomes a ``crash`` outcome
naming the signal and the child's last words on stderr, and the next call starts a fresh
child: the checker outlives what it checks.  A child killed by the system (SIGKILL: the
out-of-memory killer, say) while it starts, before the backend has loaded, is machine trouble, not
a finding about the backend: it is started once more, and a second such death makes every call
of that backend ``skipped`` with a message that starts "could not run".

The child runs in its own process group and dies with its parent (Linux: PR_SET_PDEATHSIG;
elsewhere a watchdog thread), so no worker outlives symconv.  It is a child subreaper, and
stopping or closing it first kills its whole descendant tree (``symconv.backends.processes``):
what a backend starts is stopped with it even when it left the group with ``setsid``.  Messages are length-prefixed pickles written and read in full, up to MAX_MESSAGE
bytes; the child's stderr is drained in blocks and only its last lines are kept.

Each call may take ``default_timeout(spec)`` seconds unless a timeout is given: what a plain
loop over output positions and kernel taps (channels vectorised, as ``symconv.reference``)
needs for the case, with room to spare, at most MAX_DEFAULT_TIMEOUT.
"""

from __future__ import annotations

import collections
import contextlib
import math
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time

from ..errors import SymconvError, shown
from ..model.values import timeout_seconds
from .base import Call, Outcome
from .processes import kill_tree

BASE_TIMEOUT = 10.0               # seconds any one call may take, plus one second per ...
STEPS_PER_SECOND = 20_000         # ... this many (output position, kernel tap) pairs, and per ...
PRODUCTS_PER_SECOND = 50_000_000  # ... this many products (the channel blocks of those pairs)
MAX_DEFAULT_TIMEOUT = 600.0
START_TIMEOUT = 300.0          # starting the child and loading a framework
CLOSE_WAIT = 5.0               # seconds a child may take to exit when asked
MAX_MESSAGE = 2**32            # bytes of one message, either way
_CHUNK = 1 << 20
COULD_NOT_RUN = "could not run"
_STDERR_LINES = 40
_STDERR_LINE_CHARS = 1000


def default_timeout(spec) -> float:
    """Seconds one backend call of this spec may take by default: proportionate to its size.

    >>> from symconv import ConvSpec
    >>> default_timeout(ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME"))
    10.0
    >>> round(default_timeout(ConvSpec("conv2d", "1x224x224x3", "7x7x3x64", strides=2, padding="SAME")), 1)
    43.1
    """
    steps = spec.batch * math.prod(spec.direct_output_spatial) * math.prod(spec.kernel_spatial)
    products = steps * spec.direct_output_channels * (spec.direct_input_channels // spec.conv_groups)
    seconds = BASE_TIMEOUT + steps / STEPS_PER_SECOND + products / PRODUCTS_PER_SECOND
    return round(min(seconds, MAX_DEFAULT_TIMEOUT), 1)


def build_seconds(backend) -> float:
    """More seconds a call may take on a path that compiles or converts its graph the first
    time it meets a spec (``ExecutionPath.build_seconds``)."""
    try:
        return float(backend.execution.build_seconds)
    except Exception:  # noqa: BLE001 - a third party's backend without the attribute
        return 0.0


def require_runner(runner, timeout=None) -> None:
    """Refuse, in one line, a ``runner=`` argument that is not a runner (``open_runner``), or one
    given with a ``timeout`` it would not honour (a runner's timeout is fixed when it opens)."""
    if not (callable(getattr(runner, "run", None)) and hasattr(runner, "backend")):
        raise SymconvError(f"runner must be a runner from symconv.backends.open_runner, got "
                           f"{type(runner).__name__} {shown(runner)}")
    if timeout is not None:
        raise SymconvError("timeout is fixed when a runner opens: give it to open_runner(..., timeout=...), "
                           "not with runner=")


@contextlib.contextmanager
def runner_for(runner=None, backend: str | None = None, **options):
    """The runner a check, an inference or an explanation uses: ``runner`` when one is given
    (checked: ``require_runner``), else one opened with ``open_runner(backend, **options)`` and
    closed when the block ends, whatever happens in it."""
    if runner is not None:
        require_runner(runner, options.get("timeout"))
        yield runner
        return
    from . import open_runner
    opened = open_runner(backend, **options)
    try:
        yield opened
    finally:
        opened.close()


class Runner:
    def __init__(self, backend):
        self.backend = backend
        self.calls = collections.Counter()  # (quantity, path) -> backend calls made

    def facts(self) -> dict:
        """What the backend says about how it runs where it runs (``Backend.facts``, learned
        when it loaded there), loading it if need be; empty when it cannot load."""
        return {} if self.prepare() else dict(self.backend.facts())

    def run(self, calls: list[Call]) -> list[Outcome]:
        """Execute the calls in order; one outcome per call."""
        for call in calls:
            self.calls[(call.quantity, call.path)] += 1
        return self._run(calls)

    def _run(self, calls):
        raise NotImplementedError

    def prepare(self) -> str | None:
        """Load the backend (once) where it runs, so that what loading learns (which functions
        an ``--impl`` file defines, what it covers) is known here; why loading failed, or None.
        A usage error found while loading (a bad ``--impl`` file) is raised as SymconvError."""
        return None

    def skip_reason(self, spec, quantity: str, path: str) -> str | None:
        """Why a call cannot run here at all (the backend's own ``skip_reason``, once loaded)."""
        self.prepare()
        return self.backend.skip_reason(spec, quantity, path)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class LocalRunner(Runner):
    """Calls the backend in this process."""

    isolated = False
    IN_PROCESS_NOTE = ("(caught: the backend runs in this process, where a hard crash such as a segfault or "
                       "os._exit would end the whole run)")

    def __init__(self, backend):
        super().__init__(backend)
        self._loaded = None  # None: not yet; "" : loaded; text: why loading failed

    def prepare(self):
        return self._ensure_loaded() or None

    def _ensure_loaded(self):
        if self._loaded is None:
            try:
                self.backend.load()
                self._loaded = ""
            except SymconvError:
                raise
            except Exception as err:
                first = (str(err).strip().splitlines() or [""])[0]
                self._loaded = f"{type(err).__name__}: {first[:300]}"
            except SystemExit as err:
                self._loaded = f"SystemExit: loading called sys.exit({err.code!r}) {self.IN_PROCESS_NOTE}"
        return self._loaded

    def _run(self, calls):
        failure = self._ensure_loaded()
        if failure:
            return [Outcome("error", error_type="LoadError", message=f"backend failed to load: {failure}")
                    for _ in calls]
        outcomes = []
        with _UserInterrupts() as interrupts:
            for call in calls:
                outcome = self.backend.execute(call)
                if interrupts.pressed:  # Ctrl-C during the call: the user's, not the backend's
                    raise KeyboardInterrupt
                if outcome.error_type in ("SystemExit", "KeyboardInterrupt"):
                    outcome.message += " " + self.IN_PROCESS_NOTE
                outcomes.append(outcome)
        return outcomes


class _UserInterrupts:
    """Tells a Ctrl-C (SIGINT) from a KeyboardInterrupt the backend raises itself: while
    active on the main thread, SIGINT sets ``pressed`` before interrupting."""

    def __init__(self):
        self.pressed = False
        self._previous = None

    def _handler(self, signum, frame):
        self.pressed = True
        raise KeyboardInterrupt

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.signal(signal.SIGINT, self._handler)
            except (ValueError, OSError):
                self._previous = None
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class _TimedOut(Exception):
    pass


class _Garbled(Exception):
    """The other side sent something that is not a message of the protocol."""


def _wait(fd: int, deadline: float | None, write: bool = False) -> None:
    """Until fd is ready to read (or write); _TimedOut when the deadline passes first."""
    if deadline is None:
        return
    left = max(deadline - time.monotonic(), 0)
    ready = select.select([], [fd], [], left)[1] if write else select.select([fd], [], [], left)[0]
    if not ready:
        raise _TimedOut()


def _write_all(fd: int, data, deadline: float | None = None) -> None:
    """Write every byte (a single write of 2 GiB or more is cut short by the kernel)."""
    view = memoryview(data)
    while len(view):
        _wait(fd, deadline, write=True)
        written = os.write(fd, view[:_CHUNK] if deadline is not None else view[:1 << 30])
        view = view[written:]


def _send(fd: int, obj, deadline: float | None = None) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    if len(data) > MAX_MESSAGE:
        raise _Garbled(f"a message of {len(data)} bytes, more than the {MAX_MESSAGE} the protocol carries")
    _write_all(fd, struct.pack("<Q", len(data)), deadline)
    _write_all(fd, data, deadline)


def _read_exact(fd: int, size: int, deadline: float | None) -> bytearray | None:
    """Read size bytes from fd; None on EOF; _TimedOut when the deadline passes."""
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        _wait(fd, deadline)
        count = os.readv(fd, [view[got:got + _CHUNK]])
        if not count:
            return None
        got += count
    return buffer


def _receive(fd: int, deadline: float | None):
    """The next message; None on EOF; raises _TimedOut or _Garbled."""
    head = _read_exact(fd, 8, deadline)
    if head is None:
        return None
    size = struct.unpack("<Q", head)[0]
    if size > MAX_MESSAGE:
        raise _Garbled(f"a message header announcing {size} bytes")
    body = _read_exact(fd, size, deadline)
    if body is None:
        return None
    try:
        return pickle.loads(body)
    except Exception as err:
        raise _Garbled(f"bytes that are not a message ({type(err).__name__})") from None


class Worker:
    """One child process, with the environment of one variant, hosting any number of backends
    (``ChildRunner``s of the same variant may share it: one TensorFlow start-up for all).
    ``timeout``: seconds per call (default: ``default_timeout`` of each call's spec)."""

    def __init__(self, variant, timeout: float | None = None):
        self.variant = variant
        self.timeout = timeout_seconds(timeout)
        self.process = None
        self.restarts = 0
        self._stderr_tail = collections.deque(maxlen=_STDERR_LINES)
        self._reader = None
        self._busy = False     # a message is in flight: the child may be mid-call
        self._loaded = {}      # backend key -> None (ready) or why it failed to load
        self._killed = False   # the last death was a SIGKILL that symconv did not send

    def accepts(self, variant) -> bool:
        """Whether a backend of that variant can run here: the settings read at start-up must
        match (the device and the other options are applied per call)."""
        return variant.startup == self.variant.startup

    def environment(self) -> dict:
        from .variants import variant_environment
        env = dict(os.environ)
        env.update(variant_environment(self.variant))
        env["PYTHONUNBUFFERED"] = "1"
        env["SYMCONV_PARENT_PID"] = str(os.getpid())
        # Linux's parent-death signal fires when the *thread* that started the child ends: ask
        # for it only from the main thread (the worker's watchdog covers the other cases).
        env["SYMCONV_PARENT_DEATH_SIGNAL"] = "1" if threading.current_thread() is threading.main_thread() else "0"
        return env

    def _start(self) -> None:
        self._stderr_tail.clear()
        self._loaded = {key: why for key, why in self._loaded.items() if why is not None}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "symconv.backends.worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.environment(), bufsize=0,
            start_new_session=True)
        self._reader = threading.Thread(target=self._drain, args=(self.process.stderr.fileno(),), daemon=True)
        self._reader.start()

    def _drain(self, fd: int) -> None:
        """Keep the child's last lines of stderr, reading it in blocks (a chatty backend must
        not slow the run)."""
        pending = b""
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()[-_STDERR_LINE_CHARS:]
            for line in lines[-_STDERR_LINES:]:
                self._keep(line)
        self._keep(pending)

    def _keep(self, line: bytes) -> None:
        text = line[-_STDERR_LINE_CHARS:].decode("utf-8", "replace").rstrip()
        if text:
            self._stderr_tail.append(text)

    def _exchange(self, message, seconds: float, when: str):
        """Send one message and wait for the answer: (reply, None) or (None, why it died)."""
        deadline = time.monotonic() + seconds
        self._busy = True
        try:
            _send(self.process.stdin.fileno(), message, deadline)
            reply = _receive(self.process.stdout.fileno(), deadline)
        except _TimedOut:
            return None, self._death(when, hung=seconds)
        except _Garbled as err:
            return None, self._death(when, garbled=str(err))
        except OSError:
            return None, self._death(when)
        self._busy = False
        return (reply, None) if reply is not None else (None, self._death(when))

    def _ensure(self, key, backend) -> str | None:
        """Start the process and load the backend in it, once; why that failed, or None.  Killed
        by the system while loading: once more in a fresh process, then COULD_NOT_RUN."""
        if self.process is None:
            self._start()
        if key not in self._loaded:
            died = self._load(key, backend)
            if died is not None and self._killed:
                self._start()
                died = self._load(key, backend)
                if died is not None and self._killed:
                    self._loaded[key] = (f"{COULD_NOT_RUN}: {died}, twice (killed by the system, not by symconv: "
                                         f"out of memory, say)")
        return self._loaded[key]

    def _load(self, key, backend) -> str | None:
        """Send the backend to the child to load (the caller's copy adopts what loading learned);
        how the child died, or None."""
        reply, died = self._exchange(("init", (key, backend)), max(self.timeout or 0, START_TIMEOUT),
                                     "while starting")
        if died is None and reply[0] == "usage":
            raise SymconvError(reply[1])
        if died is None and reply[0] == "ready" and reply[1] is not None:
            backend.adopt(reply[1])
        self._loaded[key] = died if died else (None if reply[0] == "ready" else reply[1])
        return died

    def call(self, key, backend, call: Call) -> Outcome:
        failure = self._ensure(key, backend)
        if failure and failure.startswith(COULD_NOT_RUN):
            return Outcome("skipped", error_type="CouldNotRun", message=failure)
        if failure:
            return Outcome("error", error_type="LoadError", message=f"backend failed to load: {failure}")
        seconds = self.timeout if self.timeout is not None else default_timeout(call.spec) + build_seconds(backend)
        reply, died = self._exchange(("call", (key, call)), seconds, f"during {call.quantity}")
        return reply if died is None else Outcome("crash", message=died)

    def _stop(self, proc, wait: float = 0.0):
        """Stop the child and everything it started (its descendants, found while the child
        still runs, and its process group); its exit code."""
        self._kill_descendants(proc)
        if wait:
            try:
                return proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            proc.kill()
        code = proc.wait()
        return code

    def _death(self, when: str, hung: float | None = None, garbled: str | None = None) -> str:
        """Stop the child (if it still runs) and describe how it ended."""
        proc, self.process = self.process, None
        self._busy = False
        if proc is None:
            return f"backend process ended {when}"
        code = self._stop(proc, wait=0.0 if (hung or garbled) else CLOSE_WAIT)
        self._killed = not (hung or garbled) and code == -signal.SIGKILL
        self._kill_group(proc)
        if self._reader is not None:
            self._reader.join(timeout=2)
        self._close_streams(proc)
        self.restarts += 1
        if hung:
            how = f"did not answer within {hung:g} s and was stopped"
        elif garbled:
            how = f"sent {garbled} and was stopped"
        elif code is not None and code < 0:
            try:
                how = f"died with signal {signal.Signals(-code).name}"
            except ValueError:
                how = f"died with signal {-code}"
        else:
            how = f"exited with status {code}"
        last = next((ln for ln in reversed(self._stderr_tail) if not ln.startswith("WARNING: All log")), "")
        hint = " (a slower backend needs a longer --timeout)" if hung else ""
        return f"backend process {how} {when}{hint}" + (f"; its last message: {last[:300]}" if last else "")

    @staticmethod
    def _kill_descendants(proc) -> None:
        """Every process below the child, wherever its group or session (not once the child
        is reaped: its pid may then name another process)."""
        if proc.returncode is None:
            kill_tree(proc.pid)

    @staticmethod
    def _kill_group(proc) -> None:
        """Whatever the child forked and left behind (the group outlives its leader)."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass

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
        if self._busy:  # interrupted mid-call: the child would not read the request to exit
            self._stop(proc)
        else:
            self._kill_descendants(proc)  # while the child still adopts the orphans among them
            try:
                _send(proc.stdin.fileno(), ("exit", None), time.monotonic() + CLOSE_WAIT)
            except (OSError, _TimedOut, _Garbled):
                pass
            self._stop(proc, wait=CLOSE_WAIT)
        self._busy = False
        self._kill_group(proc)
        if self._reader is not None:
            self._reader.join(timeout=2)
        self._close_streams(proc)

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
            raise SymconvError(f"a worker for {self.worker.variant} cannot run a backend for {backend.variant}")
        self.key = f"{backend.name}-{id(backend)}"

    @property
    def restarts(self) -> int:
        return self.worker.restarts

    def prepare(self):
        return self.worker._ensure(self.key, self.backend)

    def _run(self, calls):
        return [self.worker.call(self.key, self.backend, call) for call in calls]

    def close(self) -> None:
        if self._own:
            self.worker.close()
