"""Reaching a Dask scheduler for a sweep: a bounded handshake before Dask's own client.

``dask.distributed.Client`` reads the first eight bytes a peer sends as the length of the
message that follows and allocates that much: an HTTP server's reply announces exabytes, and a
listener that accepts but never answers keeps the client waiting.  So before the client
connects, ``probe`` checks, within one deadline (``SCHEDULER_TIMEOUT`` seconds in all):

1. a TCP connection opens;
2. the first message is the handshake that every Dask comm sends on connecting, no longer than
   ``HANDSHAKE_BYTES`` (read here with a bound, decoded by Dask's own protocol functions);
3. Dask's ``identity`` call, over Dask's comm with what is left of the deadline, names a
   scheduler (not a worker or a nanny).

Only then is the client made, with the time that is left, and at least one worker must have
joined the scheduler by the end of it (cases sent to a cluster without workers wait for ever).  Each failure is one line naming the
address.
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import threading
import time

from ..errors import SymconvError, shorten, shown

SCHEDULER_TIMEOUT = 30.0     # seconds, in all, to reach a scheduler and make the client
HANDSHAKE_BYTES = 1 << 16    # a Dask handshake is about a hundred bytes
_HEADER = struct.Struct("Q")  # Dask's frame length, as distributed.comm.tcp writes it


def parse_address(address) -> tuple:
    """``tcp://HOST:PORT`` (or ``HOST:PORT``) -> (url, host, port); ``inproc://...`` (a cluster in
    this process) -> (url, None, None)."""
    if not isinstance(address, str) or not address.strip():
        raise SymconvError(f"scheduler must be an address such as tcp://127.0.0.1:8786 or a dask Client, "
                           f"got {shown(address)}")
    text = address.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    if scheme == "inproc" and rest and text.isprintable():
        return text, None, None
    if scheme != "tcp":
        raise SymconvError(f"scheduler address must be tcp://HOST:PORT (for another protocol, pass a "
                           f"dask.distributed.Client), got {shown(address)}")
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]{1,253}):([0-9]{1,5})", rest)
    if not match or not 0 < int(match.group(2)) < 65536:
        raise SymconvError(f"scheduler address must be tcp://HOST:PORT (a host name or IP address, a port from 1 "
                           f"to 65535), got {shown(address)}")
    host = match.group(1).strip("[]")
    return f"tcp://{match.group(1)}:{int(match.group(2))}", host, int(match.group(2))


class _Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return max(self.end - time.monotonic(), 0.0)


def _read(sock: socket.socket, size: int, deadline: _Deadline, address: str, what: str) -> bytes:
    """Exactly ``size`` bytes (already bounded by the caller), before the deadline."""
    data = bytearray()
    while len(data) < size:
        left = deadline.left()
        if not left:
            raise SymconvError(f"scheduler {shown(address)} accepted the connection but sent no {what} in time: "
                               f"is a Dask scheduler listening there?")
        sock.settimeout(left)
        try:
            chunk = sock.recv(min(size - len(data), 1 << 16))
        except socket.timeout:
            continue
        except OSError as err:
            raise SymconvError(f"scheduler {shown(address)} dropped the connection: {err.strerror or err}") from None
        if not chunk:
            raise SymconvError(f"scheduler {shown(address)} closed the connection before its {what}: "
                               f"is a Dask scheduler listening there?")
        data += chunk
    return bytes(data)


def _not_dask(address: str, why: str) -> SymconvError:
    return SymconvError(f"scheduler {shown(address)} does not speak Dask's protocol ({why}): is a Dask "
                        f"scheduler listening there?")


def read_handshake(sock: socket.socket, address: str, deadline: _Deadline) -> dict:
    """The handshake a Dask comm sends first, read with a bound on its size."""
    from distributed.protocol import loads
    from distributed.protocol.utils import unpack_frames
    (size,) = _HEADER.unpack(_read(sock, _HEADER.size, deadline, address, "handshake"))
    if size > HANDSHAKE_BYTES:
        raise _not_dask(address, f"its first message announces {size} bytes; a handshake is at most "
                                 f"{HANDSHAKE_BYTES}")
    body = _read(sock, size, deadline, address, "handshake")
    try:
        frames, missing = unpack_frames(body, partial=True)
        if sum(missing) > HANDSHAKE_BYTES:
            raise ValueError("too long")
        if missing:
            frames = list(frames) + [_read(sock, n, deadline, address, "handshake") for n in missing]
        message = loads(frames, deserialize=False)
    except SymconvError:
        raise
    except Exception:  # noqa: BLE001 - any bytes that do not decode: not Dask
        raise _not_dask(address, "its first message does not decode as a Dask message") from None
    if not isinstance(message, dict) or "compression" not in message:
        raise _not_dask(address, "its first message is not a Dask handshake")
    return message


async def _identity(address: str, seconds: float) -> object:
    from distributed.comm import connect
    comm = await connect(address, timeout=seconds)
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


def _in_thread(coroutine_function, *args, seconds: float):
    """Run a coroutine on a fresh event loop in a thread (the caller may be inside a running
    loop, as in a notebook); (result, error), or TimeoutError when it runs past ``seconds``."""
    box = {}

    def target():
        try:
            box["result"] = asyncio.run(asyncio.wait_for(coroutine_function(*args), seconds))
        except BaseException as err:  # noqa: BLE001 - handed back to the caller
            box["error"] = err
    thread = threading.Thread(target=target, daemon=True, name="symconv-scheduler-probe")
    thread.start()
    thread.join(seconds + 1.0)
    if thread.is_alive():
        return None, TimeoutError()
    return box.get("result"), box.get("error")


def probe(address, timeout: float | None = None) -> float:
    """Check that a Dask scheduler answers at ``address`` (see the module); the seconds left
    of ``timeout`` (default SCHEDULER_TIMEOUT) for the client."""
    url, host, port = parse_address(address)
    seconds = SCHEDULER_TIMEOUT if timeout is None else timeout
    if host is None:   # a cluster in this process: nothing to probe
        return seconds
    deadline = _Deadline(seconds)
    try:
        sock = socket.create_connection((host, port), timeout=max(deadline.left(), 0.001))
    except socket.timeout:
        raise SymconvError(f"scheduler {shown(address)} cannot be reached: no connection within "
                           f"{seconds:g} s") from None
    except (OSError, ValueError) as err:   # ValueError: UnicodeError of a host name's label
        why = getattr(err, "strerror", None) or str(err)
        raise SymconvError(f"scheduler {shown(address)} cannot be reached: {shorten(why, 200)}") from None
    with sock:
        read_handshake(sock, address, deadline)
    reply, error = _in_thread(_identity, url, max(deadline.left(), 0.001), seconds=max(deadline.left(), 0.001))
    if isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        raise SymconvError(f"scheduler {shown(address)} did not answer Dask's identity call within {seconds:g} s")
    if error is not None:
        first = (str(error).strip().splitlines() or [""])[0]
        raise SymconvError(f"scheduler {shown(address)} failed Dask's identity call: "
                           f"{type(error).__name__}: {shorten(first, 200)}")
    kind = reply.get("type") if isinstance(reply, dict) else None
    if kind != "Scheduler":
        raise SymconvError(f"{shown(address)} is a Dask {kind or 'peer'}, not a scheduler: give the scheduler's "
                           f"address")
    return deadline.left()


def client(scheduler, timeout: float | None = None):
    """(a dask.distributed.Client for ``scheduler``, whether it is ours to close): a Client as
    given, or one made for an address after ``probe``."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise SymconvError("a Dask scheduler needs dask.distributed, which is not installed: "
                           "pip install 'symconv[dask]'") from None
    seconds = SCHEDULER_TIMEOUT if timeout is None else timeout
    if isinstance(scheduler, Client):
        made, own, name = scheduler, False, "the client's scheduler"
        deadline = _Deadline(seconds)
    else:
        left = probe(scheduler, seconds)
        deadline = _Deadline(left)
        try:
            made, own, name = Client(parse_address(scheduler)[0], timeout=max(left, 1.0)), True, \
                f"scheduler {shown(scheduler)}"
        except (OSError, TimeoutError, ValueError) as err:
            raise SymconvError(f"scheduler {shown(scheduler)} cannot be reached: {shorten(str(err), 200)}") from None
    try:   # a scheduler without workers would hold the cases for ever
        made.wait_for_workers(1, timeout=max(deadline.left(), 1.0))
    except (OSError, TimeoutError, asyncio.TimeoutError):   # Dask's WorkerStartTimeoutError is one
        address = getattr(made.scheduler, "address", None) or "ADDRESS"
        if own:
            made.close()
        raise SymconvError(f"{name} has no workers (none joined within {seconds:g} s): start one, e.g. "
                           f"dask worker {address}") from None
    return made, own
