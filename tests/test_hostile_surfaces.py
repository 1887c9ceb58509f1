"""Hostile input on the sweep, the matrix, trace and port: worker counts, scheduler addresses,
network sizes and depths, user factories.  Each ends in one line (SymconvError, exit 2 on the
command line) or the right status, within a stated time, with nothing left running."""

import os
import socket
import subprocess
import sys
import threading
import time
import warnings

import pytest

from symconv import SymconvError
from symconv.cli import main
from symconv.sweeps import run as sweep_run
from symconv.sweeps import scheduler as sweep_scheduler
from symconv.sweeps.cases import sweep_cases
from symconv.sweeps.run import resolve_workers, sweep

from .paths import ROOT


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


def test_a_script_without_a_main_guard_gets_one_line_of_advice(tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text("import symconv\n"
                      "try:\n"
                      "    symconv.sweep('numpy', ops=['conv1d'], workers=2, progress=False)\n"
                      "except symconv.SymconvError as err:\n"
                      "    print('SymconvError:', err)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert "SymconvError: the sweep's 2 worker processes ended before answering" in done.stdout, done.stderr
    assert "if __name__ == '__main__':" in done.stdout


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


# ---- trace: sizes, depth, nesting, exact counts, integer fields ------------------------------------

def _chain(layer: str, count: int) -> str:
    return " > ".join([layer] * count)


@pytest.mark.parametrize("argv,message", [
    (["--input", "1x100000000x100000000x3", "--layers", "conv2d 3x3"], "has an axis longer than 1,048,576"),
    (["--input", "1x8x8x99999999999999999", "--layers", "conv2d 3x3"], "input 8x8x99999999999999999 has an axis"),
    (["--input", "1x8x8x999999999999999999999", "--layers", "conv2d 3x3"], "must be at most 2**31 in size"),
    (["--input", "1x8x8x9999999999", "--layers", "conv2d 3x3"], "has an axis longer than"),
    (["--input", "1x8x8x1", "--layers", "conv2d 3x3 c99999999999"], "has an axis longer than"),
    (["--input", "1x8x8x1", "--layers", "conv2d 3x3 c" + "9" * 5000], "must be at most 2**31 in size"),
    (["--input", "1x8x8x1", "--layers", "upsample 100000000"], "has an axis longer than"),
    (["--input", "1x8x8x1", "--layers", "pad 100000000000"], "has an axis longer than"),
    (["--input", "1x8x8x1", "--layers", "transpose 3x3 s100000000000"], "has an axis longer than"),
    (["--input", "1x8x8x1", "--layers", "dense c100000000000"], "has an axis longer than"),
    (["--input", "1x8x8x1", "--layers", "depthwise 3x3 m100000000000"], "has an axis longer than"),
    (["--input", "1x8x8x1", "--layers", "conv2d 100000000000x3 SAME"], "taps on one axis is more than"),
    (["--input", "1x2048x2048x8", "--layers", "conv2d 3x3"], "more than the 16,777,216"),
    (["--input", "1x1024x1024x1", "--layers", "upsample 16 bilinear"], "more than the 16,777,216"),
    (["--input", "1x8x8x1", "--layers", _chain("relu", 10_001)], "more than the 10,000 symconv traces through"),
    (["--input", "1x8x8x1", "--layers", "add( " * 400 + "relu" + " | )" * 400], "nest at most 50 deep"),
])
def test_trace_refuses_what_it_cannot_hold_before_allocating(capsys, argv, message):
    one_line_exit_2(capsys, "trace", *argv, "--entry", "out[0,0,0,0]", match=message)


def test_path_counts_are_exact_integers_at_any_depth():
    from symconv.network import trace
    for layer, count in [("conv2d 3x3 SAME", 120), ("conv2d 3x3 SAME c2", 300), ("conv2d 3x3 SAME c1", 1000)]:
        answer = trace(_chain(layer, count), "out", (0, 0, 0, 0), input_shape="1x8x8x3")
        flat = answer.counts.reshape(-1).tolist()
        top = max(flat)
        count_at_top, where = answer.max_entry()
        assert count_at_top == top and answer.count_at(where) == top
        assert answer.paths == sum(flat) and all(type(v) is int for v in flat)
        assert f"at most {answer_big(top)} to one entry" in answer.text()


def answer_big(value):
    from symconv.network.answer import big
    return big(value)


def test_a_thousand_layers_answer_on_the_command_line(capsys):
    code, out, err = run_cli(capsys, "trace", "--input", "1x8x8x1", "--layers", _chain("conv2d 3x3 SAME c1", 1000),
                             "--entry", "out[0,0,0,0]")
    assert code == 0 and "Traceback" not in err, err
    assert "paths: " in out and "at most " in out


def test_deep_nesting_within_the_bound_parses():
    from symconv.network.chain import parse_chain
    net = parse_chain("add( " * 50 + "relu" + " | )" * 50, "1x4x4x1")
    assert len(net.nodes) == 1 + 1 + 50


@pytest.mark.parametrize("entry", [(0, 0.5, 0, 0), (0, 1.0, 0, 0), (0, "1", 0, 0.0), (0, None, 0, 0),
                                   (0, True, 0, 0), "0,0,0,0", (0,) * 100, 5])
def test_a_traced_entry_must_be_integers(entry):
    from symconv.network import readers, trace
    with pytest.raises(SymconvError, match=r"entry|must"):
        trace("conv2d 3x3 SAME c1", "out", entry, input_shape="1x4x4x1")
    with pytest.raises(SymconvError, match=r"entry|must"):
        readers("conv2d 3x3 SAME c1", "out", entry, input_shape="1x4x4x1")


def test_a_half_index_is_named_not_truncated():
    from symconv.network import trace
    with pytest.raises(SymconvError, match=r"^entry indices must be integers, got 0.5$"):
        trace("conv2d 3x3 SAME c1", "out", (0, 0.5, 0, 0), input_shape="1x4x4x1")


@pytest.mark.parametrize("field,value,message", [
    ("input_shape", "1x4.5x4x1", "input shape must look like 1x3x3x1"),
    ("input_shape", (1, 4.0, 4, 1), "input shape must be integers, got 4.0"),
    ("convention", "caffe", "convention must be one of"),
    ("convention", None, "convention must be one of"),
    ("layer", ["out"], "layer must be"),
    ("layer", None, "layer must be"),
])
def test_trace_api_fields_are_named(field, value, message):
    from symconv.network import trace
    kwargs = {"input_shape": "1x4x4x1", "convention": "tf"}
    layer = "out"
    if field == "layer":
        layer = value
    else:
        kwargs[field] = value
    with pytest.raises(SymconvError, match=message):
        trace("conv2d 3x3 SAME c1", layer, (0, 0, 0, 0), **kwargs)


@pytest.mark.parametrize("call,message", [
    (lambda L, x: L.conv("c", x, 3, filters=2.5), "filters must be integers, got 2.5"),
    (lambda L, x: L.conv("c", x, 3, groups=1.0), "groups must be integers, got 1.0"),
    (lambda L, x: L.conv("c", x, 3, multiplier="2"), None),
    (lambda L, x: L.conv("c", x, 3, strides=0.5), "strides must be integers, got 0.5"),
    (lambda L, x: L.conv("c", x, (3, 2.5)), "kernel size must be integers, got 2.5"),
    (lambda L, x: L.conv("c", x, 3, padding=((0.5, 0), (0, 0))), "padding must be integers, got 0.5"),
    (lambda L, x: L.pool("p", x, "avg", 2, divisor=2.5), "divisor"),
    (lambda L, x: L.upsample("u", x, 1.5), "upsampling factor must be integers, got 1.5"),
    (lambda L, x: L.adaptive_pool("a", x, "avg", (2, 0.5)), "output size must be integers, got 0.5"),
    (lambda L, x: L.channel_mix("d", x, 3.5), "channels must be integers, got 3.5"),
    (lambda L, x: L.transpose("t", x, 3, output_spatial=(4.5, 4)), "output size must be integers, got 4.5"),
])
def test_layer_builders_refuse_non_integer_fields(call, message):
    from symconv.network import layers as L
    x = L.input_node("x", (4, 4), 2)
    if message is None:   # an integer's digits are an integer
        assert call(L, x).shape.channels == 4
        return
    with pytest.raises(SymconvError, match=message):
        call(L, x)


def test_counts_of_more_digits_than_python_prints_are_shown_and_written_exactly():
    import json

    from symconv.network import trace
    from symconv.network.answer import big
    assert big(9**4000 * 7) == "6.533e+3817" and big(-(10**5000)) == "-1.000e+5000"
    answer = trace(_chain("conv2d 3x3 SAME c1", 5000), "out", (0, 0, 0, 0), input_shape="1x8x8x1")
    assert answer.paths.bit_length() > 4300 * 3.33
    import re
    assert re.search(r"paths: \d\.\d{3}e\+\d{4} in all, at most \d\.\d{3}e\+\d{4} to one entry", answer.text())
    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)   # Python reads no more than 4,300 digits by default either
    try:
        obj = json.loads(answer.json())
    finally:
        sys.set_int_max_str_digits(previous)
    assert obj["paths"] == answer.paths and sum(p["paths"] for p in obj["pixels"]) == answer.paths


def test_a_picture_of_counts_past_float64(tmp_path):
    pytest.importorskip("matplotlib")
    from symconv.network import trace
    answer = trace(_chain("conv2d 3x3 SAME c2", 300), "out", (0, 0, 0, 0), input_shape="1x8x8x3")
    assert answer.paths > 2**1100   # float64 ends near 2**1024
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        answer.picture(tmp_path / "deep.png")
    assert (tmp_path / "deep.png").stat().st_size > 1000


# ---- trace --torch: the user's factory in a guarded child ---------------------------------------------

FACTORIES = {
    "exits": "import sys\n\ndef build():\n    sys.exit(0)\n",
    "exits_at_import": "import sys\nsys.exit(0)\n\ndef build():\n    pass\n",
    "hard_exit": "import os\n\ndef build():\n    os._exit(0)\n",
    "segfault": "import ctypes\n\ndef build():\n    ctypes.string_at(0)\n",
    "raises": "def build():\n    raise RuntimeError('no weights here')\n",
    "interrupts": "def build():\n    raise KeyboardInterrupt\n",
    "not_a_module": "def build():\n    return 42\n",
}


def _factory(tmp_path, body: str) -> str:
    path = tmp_path / "factory.py"
    path.write_text(body)
    return f"{path}:build"


def _processes_with(marker: str) -> list:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    if marker.encode() in cmdline.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


@pytest.mark.parametrize("name,message", [
    ("exits", "the model's code called sys.exit(0)"),
    ("exits_at_import", "the model's code called sys.exit(0)"),
    ("hard_exit", "the model's process exited with status 0 during building the model"),
    ("segfault", "the model's process died with signal SIGSEGV during building the model"),
    ("raises", "the model's code raised RuntimeError: no weights here"),
    ("interrupts", "the model's code raised KeyboardInterrupt"),
    ("not_a_module", "build must be or return a torch.nn.Module, got int"),
])
def test_a_factory_that_exits_crashes_or_raises_is_one_line(capsys, tmp_path, name, message):
    pytest.importorskip("torch")
    err = one_line_exit_2(capsys, "trace", "--torch", _factory(tmp_path, FACTORIES[name]), "--input", "1x3x8x8",
                          "--entry", "out[0,0,0,0]", match=message)
    assert "error: --torch" in err


def test_a_factory_that_hangs_is_stopped_with_all_it_started(capsys, tmp_path):
    pytest.importorskip("torch")
    marker = f"symconv-factory-grandchild-{os.getpid()}"
    body = ("import subprocess, sys, time\n\ndef build():\n"
            f"    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(3600)', {marker!r}])\n"
            "    time.sleep(3600)\n")
    start = time.monotonic()
    one_line_exit_2(capsys, "trace", "--torch", _factory(tmp_path, body), "--input", "1x3x8x8", "--entry",
                    "out[0,0,0,0]", "--timeout", "3", match="did not answer within 3 s and was stopped")
    assert time.monotonic() - start < 60
    time.sleep(0.5)
    assert _processes_with(marker) == []


def test_a_factory_that_prints_still_answers(capsys, tmp_path):
    pytest.importorskip("torch")
    body = ("import torch.nn as nn\n\ndef build():\n    print('chatty ' * 1000)\n"
            "    return nn.Sequential(nn.Conv2d(3, 2, 3), nn.ReLU())\n")
    code, out, err = run_cli(capsys, "trace", "--torch", _factory(tmp_path, body), "--input", "1x3x8x8",
                             "--entry", "1[0,1,2,3]", "--check")
    assert code == 0, err
    assert out.startswith("1[0,1,2,3]") and "agrees" in out and "chatty" not in out


@pytest.mark.parametrize("argv,message", [
    (["--torch", "nofile.py:build"], "--torch file 'nofile.py' does not exist"),
    (["--torch", "x.txt:build"], "--torch must look like FILE.py:NAME"),
    (["--torch", f"{ROOT}:build.py"], "--torch must look like FILE.py:NAME"),
    (["--torch", "tests:1.py:build"], "--torch file 'tests:1.py' does not exist"),
    (["--torch", "tests/impls/legacy_same.py:build", "--timeout", "0"], "timeout must be a positive number"),
    (["--torch", "tests/impls/legacy_same.py:build", "--timeout", "nan"], "timeout must be a positive number"),
])
def test_torch_sources_and_timeouts_are_checked_before_anything_runs(capsys, argv, message):
    pytest.importorskip("torch")
    one_line_exit_2(capsys, "trace", *argv, "--input", "1x3x8x8", "--entry", "out[0,0,0,0]", match=message)


# ---- more of the same: every option of trace, sweep and matrix -----------------------------------------

CHAIN_ARGS = ["--input", "1x8x8x1", "--layers", "conv2d 3x3 c1"]


@pytest.mark.parametrize("argv,message", [
    (["--entry", "out[0,0,0,0]", "--png", "/no/such/dir/x.png"], "--png '/no/such/dir/x.png' cannot be written: "
                                                                  "no such folder '/no/such/dir'"),
    (["--entry", "out[0,0,0,0]", "--png", ""], "--png must be a file name, got ''"),
    (["--entry", "out[0,0,0,0]", "--png", "/tmp"], "--png '/tmp' is a folder: give a file name"),
    (["--entry", "out[0,0,0,0]", "--png", "/tmp/x.notaformat"], "--png '/tmp/x.notaformat': a picture is written as "
                                                                 ".png, .svg or .pdf"),
    (["--entry", "out[0,0,0,0]", "--png", "/dev/full"], "--png '/dev/full': a picture is written as .png, .svg or .pdf, "
                                                        "chosen by the file's suffix; got no suffix"),
    (["--entry", "out[0,0,0,0]", "--latex", "/no/such/dir/x.tex"], "--latex '/no/such/dir/x.tex' cannot be written: no such folder"),
    (["--entry", "out[0,0,0,0]", "--latex", "/dev/full"], "--latex '/dev/full' cannot be written: No space left"),
    (["--entry", "out[0,0,0,0]", "--latex", "x\x00.tex"], "--latex 'x\\x00.tex' cannot be written"),
    (["--entry", "out[0,0,0,0]", "--timeout", "-1"], "timeout must be a positive number"),
    (["--entry", "out[0,0,0,0]", "--check"], "--check compares with a model's gradient"),
    (["--pixel", "x[0,0,0,0]", "--check"], "--check is for --entry"),
])
def test_trace_outputs_and_options_are_one_line(capsys, argv, message):
    if "--png" in argv:
        pytest.importorskip("matplotlib")
    one_line_exit_2(capsys, "trace", *CHAIN_ARGS, *argv, match=message)


def test_an_average_pool_window_wholly_in_padding_reads_nothing(capsys):
    code, out, err = run_cli(capsys, "trace", "--input", "1x1x1x1", "--layers", "avgpool 2x2 SAME d2", "--entry",
                             "out[0,0,0,0]")
    assert code == 0, err
    assert "reads nothing of x (every path ends in padding)" in out


@pytest.mark.parametrize("layers,message", [
    ("slice 0:8:0", "slice step cannot be zero"),
    ("slice 0:8:1,0:4:0", "slice step cannot be zero"),
])
def test_chain_layers_with_bad_values_are_one_line(capsys, layers, message):
    one_line_exit_2(capsys, "trace", "--input", "1x8x8x1", "--layers", layers, "--summary", match=message)


@pytest.mark.parametrize("argv,message", [
    (["--json", ""], "--json must be a file name, got ''"),
    (["--json", "/tmp"], "--json '/tmp' is a folder: give a file name"),
    (["--scheduler", ""], "scheduler must be an address such as"),
    (["--scheduler", "udp://1.2.3.4:1"], "scheduler address must be tcp://HOST:PORT"),
    (["--seed", "-1"], "seed must be a non-negative integer"),
    (["--timeout", "nan"], "timeout must be a positive number"),
    (["--size", "huge"], "invalid choice: 'huge'"),
    (["--ops", ""], "ops must be"),
    (["--ops", ",,"], "ops must be"),
    (["--ops", "conv1d" * 10000], "ops must be"),
])
def test_sweep_options_are_one_line(capsys, argv, message):
    one_line_exit_2(capsys, "sweep", "--backend", "numpy", "--ops", "conv1d", *argv, match=message)


@pytest.mark.parametrize("argv,message", [
    (["-o", ""], "--output must be a file name, got ''"),
    (["-o", "/no/such/dir/c.md"], "--output '/no/such/dir/c.md' cannot be written: no such folder"),
    (["--scheduler", "nowhere"], "scheduler address must be tcp://HOST:PORT"),
    (["--workers", "0"], "workers must be a positive integer, got 0"),
    (["--backends", ""], "backends must be among"),
    (["--backends", "numpy,caffe"], "backends must be among"),
])
def test_matrix_options_are_one_line_before_any_backend_runs(capsys, argv, message, monkeypatch):
    from symconv.sweeps import matrix
    monkeypatch.setattr(matrix, "run_one", lambda *a, **k: pytest.fail("a run started"))
    one_line_exit_2(capsys, "matrix", "--backends", "numpy", "--ops", "conv1d", *argv, match=message)


def test_a_backend_registered_here_runs_in_pool_processes(two_cores):
    from symconv.backends import BACKENDS, register_backend
    register_backend("numpy-here", "symconv.backends.numpy_backend:NumpyBackend")
    try:
        report = sweep("numpy-here", cases=sweep_cases("quick", ["conv1d"])[:2], workers=2, progress=False)
    finally:
        del BACKENDS["numpy-here"]
    assert report.engine == "2 worker processes" and report.status == "ok"


# ---- port ----------------------------------------------------------------------------------------------

BIG_PORT = ["conv2d", "--input", "1x20000x20000x1", "--kernel", "3x3x1x1", "--to", "torch"]


def test_port_refuses_to_verify_a_layer_too_large_for_exact_probes(capsys):
    one_line_exit_2(capsys, "port", *BIG_PORT, "--verify", match="too large to verify exactly")


def test_port_writes_a_layer_too_large_to_verify_and_says_so(capsys, monkeypatch):
    from symconv import porting
    monkeypatch.setattr(porting, "installed", lambda fw, form="function": True)   # as where both frameworks are installed
    code, out, err = run_cli(capsys, "port", *BIG_PORT)
    assert code == 0 and not err, err
    assert "not verified: this conv2d is too large to verify exactly" in out


@pytest.mark.parametrize("argv,message", [
    (["--to", ""], "to must be one of tf, torch, jax, onnx, keras, got ''"),
    (["--to", "torch", "--from", "caffe"], "from must be one of"),
    (["--to", "tf", "--from", "tf"], "from and to must be two frameworks"),
    (["--to", "torch", "--seed", "-1"], "seed must be a non-negative integer"),
    (["--to", "torch", "--seed", "1e3"], "invalid int value"),
    (["--to", "torch", "--padding", "1000000:1000000"], "more than 2**31 elements"),
    (["--to", "torch", "--padding", "-1:-1"], "nothing to port"),
    (["--to", "torch", "--data-format", "é"], "data_format for conv2d must be NHWC or NCHW"),
])
def test_port_options_are_one_line(capsys, argv, message):
    one_line_exit_2(capsys, "port", "conv2d", "--input", "1x4x4x1", "--kernel", "3x3x1x1", *argv, match=message)


@pytest.mark.parametrize("kwargs,message", [
    (dict(ops=5), "ops must be op names"),
    (dict(ops=[5]), "ops must be op names"),
    (dict(ops=[["conv1d"]]), "ops must be op names"),
    (dict(cases=5), "cases must be a list of symconv.sweeps.cases.Case objects"),
    (dict(cases=["conv1d"]), "cases must be a list of symconv.sweeps.cases.Case objects"),
    (dict(size=None, ops=["conv1d"]), "size must be quick or full"),
])
def test_sweep_api_fields_are_named(kwargs, message):
    with pytest.raises(SymconvError, match=message):
        sweep("numpy", progress=False, workers=1, **kwargs)


def test_matrix_api_fields_are_named():
    from symconv.sweeps.matrix import matrix_runs, run_matrix
    for backends in (5, [5], [None]):
        with pytest.raises(SymconvError, match="backends must be among"):
            matrix_runs(backends)
    for runs in (5, [5], []):
        with pytest.raises(SymconvError, match="runs must be a list of MatrixRun"):
            run_matrix(runs)
    with pytest.raises(SymconvError, match="ops must be op names"):
        run_matrix(matrix_runs("numpy"), ops=5)


def test_a_scheduler_without_workers_is_one_line_within_the_timeout(short_timeout):
    distributed = pytest.importorskip("dask.distributed")
    local = dict(n_workers=0, processes=False, dashboard_address=None, protocol="tcp")
    with distributed.LocalCluster(**local) as cluster:
        start = time.monotonic()
        with pytest.raises(SymconvError, match=r"has no workers \(none joined within 2 s\): start one, e.g. "
                                               r"dask worker tcp://"):
            sweep("numpy", ops=["conv1d"], scheduler=cluster.scheduler_address, progress=False)
        assert time.monotonic() - start < 10


def _lost(*args, **kwargs):
    raise OSError("connection reset by peer")


def test_a_case_the_cluster_loses_is_one_line(monkeypatch):
    distributed = pytest.importorskip("dask.distributed")
    monkeypatch.setattr(sweep_run, "remote_case", _lost)
    local = dict(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None)
    with distributed.LocalCluster(**local) as cluster:
        with pytest.raises(SymconvError, match=r"^the Dask cluster lost case conv1d-\S+: OSError: "
                                               r"'connection reset by peer'$"):
            sweep("numpy", ops=["conv1d"], scheduler=cluster.scheduler_address, progress=False)
