"""Hostile input on the sweep, the matrix, trace and port: worker counts, scheduler addresses,
network sizes and depths, user factories.  Each ends in one line (SymconvError, exit 2 on the
command line) or the right status, within a stated time, with nothing left running."""

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from symconv import SymconvError
from symconv import sweep_run, sweep_scheduler
from symconv.cli import main
from symconv.sweep_cases import sweep_cases
from symconv.sweep_run import resolve_workers, sweep

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as done:   # argparse
        code = done.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line_exit_2(capsys, *argv, match: str):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, (code, out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert match in err, err
    return err


# ---- worker counts ---------------------------------------------------------------------------------

@pytest.fixture
def two_cores(monkeypatch):
    """A machine with two cores and plenty of memory, whatever this one has."""
    monkeypatch.setattr(sweep_run, "machine_cores", lambda: 2)
    monkeypatch.setattr(sweep_run, "available_memory", lambda: 64 * 2**30)


def test_workers_default_to_the_cores_and_never_outnumber_the_cases(two_cores):
    assert resolve_workers(None) == 2
    assert resolve_workers(None, cases=1) == 1
    assert resolve_workers(8, cases=3) == 3
    assert resolve_workers("8") == 8 and resolve_workers(" 3 ") == 3


@pytest.mark.parametrize("value", [9, 1000, "1000", 2**80, "9" * 5000])
def test_more_workers_than_four_per_core_are_refused_naming_the_limit(two_cores, value):
    with pytest.raises(SymconvError, match=r"^workers must be at most 8 on this machine \(4 per core, 2 cores\), "
                                           r"got "):
        resolve_workers(value)


def test_the_memory_available_bounds_the_workers(monkeypatch):
    monkeypatch.setattr(sweep_run, "machine_cores", lambda: 64)
    monkeypatch.setattr(sweep_run, "available_memory", lambda: 3 * 2**30)
    assert resolve_workers(None) == 6
    with pytest.raises(SymconvError, match=r"at most 6 on this machine \(512 MiB each, 3.0 GiB of memory available"):
        resolve_workers(7)


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "", "x", "٣", "²", "1e3", None.__class__, float("nan")])
def test_workers_that_are_not_positive_integers_are_refused(value):
    with pytest.raises(SymconvError, match=r"^workers must be a positive integer, got "):
        resolve_workers(value)


def test_sweep_refuses_too_many_workers_before_starting_any(two_cores, monkeypatch):
    def no_pool(*args, **kwargs):
        raise AssertionError("a pool was started")
    monkeypatch.setattr(sweep_run, "_run_pool", no_pool)
    with pytest.raises(SymconvError, match=r"workers must be at most 8"):
        sweep("numpy", ops=["conv1d"], workers=1000, progress=False)


def test_one_case_runs_in_one_worker_whatever_is_asked(two_cores):
    case = sweep_cases("quick", ["conv1d"])[:1]
    report = sweep("numpy", cases=case, workers=8, progress=False)
    assert report.engine == "1 worker" and report.status == "ok"


@pytest.mark.parametrize("command", ["sweep", "matrix"])
def test_the_commands_refuse_too_many_workers_in_one_line(capsys, command):
    backend = ["--backend", "numpy"] if command == "sweep" else ["--backends", "numpy"]
    one_line_exit_2(capsys, command, *backend, "--ops", "conv1d", "--workers", "100000",
                    match="workers must be at most")


# ---- scheduler addresses ---------------------------------------------------------------------------

class _Listener:
    """A local TCP server that answers every connection with ``reply`` (None: says nothing and
    keeps the connection open)."""

    def __init__(self, reply: bytes | None):
        self.reply = reply
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.address = "tcp://127.0.0.1:%d" % self.server.getsockname()[1]
        self.connections = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections.append(conn)
            if self.reply is not None:
                try:
                    conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self):
        self.server.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def listener(request):
    server = _Listener(request.param)
    yield server
    server.close()


@pytest.fixture
def short_timeout(monkeypatch):
    monkeypatch.setattr(sweep_scheduler, "SCHEDULER_TIMEOUT", 2.0)


GARBAGE = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"


@pytest.mark.parametrize("listener,message", [
    (GARBAGE, r"does not speak Dask's protocol \(its first message announces \d+ bytes"),
    (b"\x10" + b"\x00" * 7 + b"0123456789abcdef", r"does not speak Dask's protocol \(its first message does not "
                                                  r"decode"),
    (b"", r"accepted the connection but sent no handshake in time"),
    (None, r"accepted the connection but sent no handshake in time"),
], indirect=["listener"])
def test_a_listener_that_is_not_a_scheduler_is_one_line_within_the_timeout(listener, message, short_timeout):
    pytest.importorskip("dask.distributed")
    start = time.monotonic()
    with pytest.raises(SymconvError, match=message):
        sweep("numpy", ops=["conv1d"], scheduler=listener.address, progress=False)
    assert time.monotonic() - start < 2.0 + 2.0


def test_a_closed_port_and_bad_addresses_are_one_line():
    pytest.importorskip("dask.distributed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SymconvError, match=r"scheduler 'tcp://127.0.0.1:\d+' cannot be reached: "):
        sweep_scheduler.probe(f"tcp://127.0.0.1:{port}", timeout=2)
    for address, message in [("tls://1.2.3.4:8786", "must be tcp://HOST:PORT"),
                             ("tcp://127.0.0.1:0", "a port from 1 to 65535"),
                             ("tcp://127.0.0.1:99999", "a port from 1 to 65535"),
                             ("tcp://:8786", "a host name or IP address"),
                             ("tcp://h\x00st:1", "a host name or IP address"), ("", "must be an address"),
                             ("tcp://" + "a" * 200 + ":1", "cannot be reached")]:
        with pytest.raises(SymconvError, match=message):
            sweep("numpy", ops=["conv1d"], scheduler=address, progress=False)


def test_the_command_line_says_a_garbage_scheduler_in_one_line(capsys, short_timeout):
    pytest.importorskip("dask.distributed")
    server = _Listener(GARBAGE)
    try:
        one_line_exit_2(capsys, "sweep", "--backend", "numpy", "--ops", "conv1d", "--scheduler", server.address,
                        match="does not speak Dask's protocol")
    finally:
        server.close()


def test_a_dask_worker_is_not_taken_for_a_scheduler():
    distributed = pytest.importorskip("dask.distributed")
    local = dict(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None, protocol="tcp")
    with distributed.LocalCluster(**local) as cluster:
        worker = next(iter(cluster.scheduler_info["workers"]))
        assert sweep_scheduler.probe(cluster.scheduler_address, timeout=20) > 0
        with pytest.raises(SymconvError, match=r"is a Dask Worker, not a scheduler"):
            sweep_scheduler.probe(worker, timeout=20)
