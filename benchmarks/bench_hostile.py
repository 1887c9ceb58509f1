"""Hostile input and faults: every example of the hostile-input report, as a whole process.

Run:  python benchmarks/bench_hostile.py [--only NAME ...]
Prints a table and writes benchmarks/results/hostile.json.

Each example runs as its own process (``python -m symconv ...`` or ``python -c ...``), the way
a user meets it.  Measured: wall time from start to exit, the exit status and the first line
that says what happened, and the peak resident memory of the process and of everything it
waited for (its backend workers), from wait4's rusage.  Targets: the right verdict or one line
of error, within 2 s of start-up (a hang: within the stated timeout), under 1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "hostile.json"
HOSTILE = ROOT / "tests" / "hostile_impls"
FOUNDING = ["conv2d", "--input", "1x3x3x1", "--kernel", "1x1x1x1", "--strides", "3", "--padding", "SAME"]
SCRATCH = Path(tempfile.mkdtemp(prefix="symconv-bench-"))
HANGS_EVERYWHERE = SCRATCH / "hangs_everywhere.py"
HANGS_EVERYWHERE.write_text("import time\n\ndef forward(x, k, spec):\n    time.sleep(3600)\n\n"
                            "def filter_grad(x, g, spec):\n    time.sleep(3600)\n\n"
                            "def input_grad(k, g, spec):\n    time.sleep(3600)\n")
BROKEN_BACKEND = ("from symconv.backends import register_backend\n"
                  "from symconv.backends.numpy_backend import NumpyBackend\n"
                  "class Broken(NumpyBackend):\n    name = 'broken'\n")
TORCH_FACTORY = {name: SCRATCH / f"factory_{name}.py" for name in ("exits", "sleeps")}
TORCH_FACTORY["exits"].write_text("import sys\n\ndef build():\n    sys.exit(0)\n")
TORCH_FACTORY["sleeps"].write_text("import time\n\ndef build():\n    time.sleep(3600)\n")


def listener(reply: bytes | None) -> str:
    """A local TCP server (a daemon thread of this script) that answers every connection with
    ``reply``, or says nothing and keeps it open (None); its address."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held = []

    def serve():
        while True:
            conn, _ = server.accept()
            held.append(conn)
            if reply is not None:
                conn.sendall(reply)
    threading.Thread(target=serve, daemon=True).start()
    return f"tcp://127.0.0.1:{server.getsockname()[1]}"


HTTP_SERVER = listener(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
SILENT_SERVER = listener(None)
DEEP = " > ".join(["conv2d 3x3 SAME c2"] * 300)
API = ("import numpy as np, symconv\nfrom symconv import check\n"
       "spec = symconv.ConvSpec('conv2d', '1x3x3x1', '1x1x1x1', strides=3, padding='SAME')\n")


def impl(name: str) -> str:
    return str(HOSTILE / f"{name}.py")


def cli(*argv) -> list:
    return [sys.executable, "-m", "symconv", *argv]


def python(code: str) -> list:
    """Python code run the way a user's script meets symconv: a SymconvError is printed, exit 2."""
    body = "\n".join("    " + line for line in code.splitlines())
    return [sys.executable, "-c", API + f"try:\n{body}\nexcept symconv.SymconvError as err:\n"
            "    print(f'SymconvError: {err}'); raise SystemExit(2)"]


# (name, what the report found before, command, timeout in seconds[, text of the line that says it])
EXAMPLES = [
    ("complex values, check", "exit 0: the imaginary part dropped, all agree",
     cli("check", *FOUNDING, "--impl", impl("complex_output")), 60, "InvalidOutput"),
    ("complex values, explain", "exit 0: agrees with the model",
     cli("explain", *FOUNDING, "--impl", impl("complex_output")), 60, "InvalidOutput"),
    ("complex values, assert_conv_matches", "passes",
     python("from symconv.testing import assert_conv_matches\n"
            "try:\n    assert_conv_matches(spec, forward=lambda x, k, s: symconv.reference.forward(s, x, k) + 0j)\n"
            "except AssertionError as e:\n    print(e); raise SystemExit(1)"), 60, "InvalidOutput"),
    ("sys.exit(0) in the impl, --in-process", "exit 0, no output",
     cli("check", *FOUNDING, "--impl", impl("exits"), "--in-process"), 60, "SystemExit"),
    ("explain --x 4294967296 --k 4294967296", "y = 0 (int64 wrapped)",
     cli("explain", "conv2d", "--input", "1x1x1x1", "--kernel", "1x1x1x1", "--x", "4294967296",
         "--k", "4294967296"), 60,
     "y[0,0,0,0] ="),
    ("symconv.evaluate on 2**62 int64 inputs", "0 (wrapped)",
     python("x = np.full((1, 3, 3, 1), 2**62); k = np.full((1, 1, 1, 1), 2**62)\n"
            "print('y[0,0,0,0] =', symconv.evaluate(spec, 'y', x=x, k=k)[0, 0, 0, 0])"), 60),
    ("which --entry y, 1x2x2x1, --padding 3000:3000", "past 7 GB, MemoryError",
     cli("which", "conv2d", "--input", "1x2x2x1", "--kernel", "1x1x1x1", "--padding", "3000:3000", "--entry", "y"), 60),
    ("which --entry y, transposed, --strides 3000", "past 7 GB, MemoryError",
     cli("which", "conv2d_transpose", "--input", "1x2x2x1", "--kernel", "1x1x1x1", "--strides", "3000",
         "--entry", "y"), 60),
    ("check, transposed, --strides 20000", "allocates until MemoryError",
     cli("check", "conv2d_transpose", "--input", "1x2x2x1", "--kernel", "1x1x1x1", "--strides", "20000",
         "--backend", "numpy"), 60),
    ("check, --padding 20000:20000", "allocates until MemoryError",
     cli("check", "conv2d", "--input", "1x2x2x1", "--kernel", "1x1x1x1", "--padding", "20000:20000",
         "--backend", "numpy"), 60),
    ("impl returns a 2 GiB array", "the run hangs (pipe write truncated)",
     cli("check", *FOUNDING, "--impl", impl("huge_output")), 120, "InvalidOutput"),
    ("impl hangs in y, dk and dx (default timeout)", "600 s per quantity: 30 minutes",
     cli("check", *FOUNDING, "--impl", str(HANGS_EVERYWHERE)), 300, "crash:"),
    ("impl with 10 MB of stderr per call", "20x slower (stderr read byte by byte)",
     cli("check", *FOUNDING, "--impl", impl("chatty")), 120),
    ("impl forks a sleeping grandchild", "",
     cli("check", *FOUNDING, "--impl", impl("forks")), 120),
    ("impl returns strings", "traceback (or coerced)",
     cli("check", *FOUNDING, "--impl", impl("string_output")), 60, "InvalidOutput"),
    ("impl returns an object array", "traceback (or coerced)",
     cli("check", *FOUNDING, "--impl", impl("object_output")), 60, "InvalidOutput"),
    ("impl returns NaN and infinity", "mismatch, coerced",
     cli("check", *FOUNDING, "--impl", impl("nan_output")), 60, "InvalidOutput"),
    ("infer, output shape changes between calls", "traceback",
     cli("infer", *FOUNDING, "--impl", impl("changing_shape")), 60),
    ("--output-shape 1x7x7 for conv2d_transpose", "traceback",
     cli("which", "conv2d_transpose", "--input", "1x3x3x1", "--kernel", "3x3x1x1", "--output-shape", "1x7x7",
         "--entry", "y[0,0,0,0]"), 60),
    ("latex -o missing/dir/x.tex", "traceback",
     cli("latex", "conv1d", "--input", "1x1x1", "--kernel", "1x1x1", "-o", str(SCRATCH / "missing" / "x.tex")), 60),
    ("latex -o a folder", "traceback", cli("latex", "conv1d", "--input", "1x1x1", "--kernel", "1x1x1", "-o",
                                           str(SCRATCH)), 60),
    ("latex -o /dev/full", "traceback", cli("latex", "conv1d", "--input", "1x1x1", "--kernel", "1x1x1", "-o",
                                            "/dev/full"), 60),
    ("check --timeout inf", "traceback", cli("check", *FOUNDING, "--backend", "numpy", "--timeout", "inf"), 60),
    ("check --seed -1", "traceback", cli("check", *FOUNDING, "--backend", "numpy", "--seed", "-1"), 60),
    ("check --seed=-1", "traceback", cli("check", *FOUNDING, "--backend", "numpy", "--seed=-1"), 60),
    ("which(spec, 5)", "TypeError", python("symconv.which(spec, 5)"), 60),
    ("which('conv2d', 'y[0,0,0,0]')", "leaks ConvSpec.__init__() missing 2 arguments",
     python("symconv.which('conv2d', 'y[0,0,0,0]')"), 60),
    ("evaluate(spec, 'backward', ...)", "KeyError", python("symconv.evaluate(spec, 'backward', x=1, k=1)"), 60),
    ("terms(spec, 'y', ...)", "KeyError", python("print(symconv.terms(spec, 'y', (0, 0, 0, 0)))"), 60),
    ("check(spec, 'numpy', variant='cpu')", "AttributeError", python("check(spec, 'numpy', variant='cpu')"), 60),
    ("explain --json, impl returns NaN", "NaN in the JSON",
     python("import contextlib, io, json\nfrom symconv.cli import main\nout = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n"
            f"    code = main(['explain', *{FOUNDING!r}, '--impl', {impl('nan_output')!r}, '--json'])\n"
            "story = json.loads(out.getvalue(), parse_constant=lambda c: 1 / 0)\n"
            "print('strict JSON; forward:', story['backend']['results'][0]['message']); raise SystemExit(code)"),
     60, "strict JSON"),
    ("a 100 KB offending value", "echoed whole on one line",
     cli("which", "conv2d", "--input", "1x" * 50000 + "1", "--kernel", "1x1x1x1", "--entry", "y"), 60),
    ("--padding -1:0,0:-1 after a space", "expected one argument",
     cli("which", "conv2d", "--input", "1x3x3x1", "--kernel", "1x1x1x1", "--padding", "-1:0,0:-1",
         "--entry", "y[0,0,0,0]"), 60),
    ("--x -1,2 after a space", "expected one argument",
     cli("explain", "conv1d", "--input", "1x2x1", "--kernel", "1x1x1", "--x", "-1,2"), 60, "x = "),
    ("--k 99999999999999999999999", "parsed as a float: 99999999999999991611392",
     cli("explain", "conv1d", "--input", "1x1x1", "--kernel", "1x1x1", "--k", "99999999999999999999999"), 60,
     "y[0,0,0] ="),
    ("--version", "unrecognized arguments", cli("--version"), 60),
    # Outputs: one rule for every output option (symconv.show.outputs).
    ("which --png a folder", "refused only when written",
     cli("which", *FOUNDING, "--entry", "y[0,0,0,0]", "--png", str(SCRATCH)), 60),
    ("check --png missing/a.png", "the check runs, then the write fails",
     cli("check", *FOUNDING, "--backend", "numpy", "--png", str(SCRATCH / "missing" / "a.png")), 60),
    ("check --png - (a pipe)", "a file named '-'",
     cli("check", *FOUNDING, "--backend", "numpy", "--png", "-"), 60, "wrote"),
    ("which --png y.svg", "PNG bytes named y.svg",
     cli("which", *FOUNDING, "--entry", "y[0,0,0,0]", "--png", str(SCRATCH / "y.svg")), 60, "wrote"),
    ("which --png y.jpg", "PNG bytes named y.jpg",
     cli("which", *FOUNDING, "--entry", "y[0,0,0,0]", "--png", str(SCRATCH / "y.jpg")), 60),
    ("prove --latex a folder", "refused after the proofs ran",
     cli("prove", "--latex", str(SCRATCH)), 120),
    ("which --reads k[...] --png, 100x56x56x64, 3x3x64x64", "AttributeError traceback",
     cli("which", "conv2d", "--input", "100x56x56x64", "--kernel", "3x3x64x64", "--padding", "SAME", "--reads",
         "k[0,0,0,0]", "--png", str(SCRATCH / "reads.png")), 120, "wrote"),
    # The Python API: timeouts honoured, arguments checked, broken backend classes in one line.
    ("check(timeout=2), the impl sleeps 30 s", "30 s: the timeout ignored in process",
     python(f"report = check(spec, impl={impl('sleeps_then_answers')!r}, timeout=2, quantities='y')\n"
            "print(report.results[0].message)"), 60, "crash:"),
    ("check in process with --timeout 2", "30 s: the timeout ignored",
     cli("check", *FOUNDING, "--impl", impl("sleeps_then_answers"), "--in-process", "--timeout", "2"), 60),
    ("explain(spec, timeout='abc')", "accepted", python("symconv.explain(spec, timeout='abc')"), 60),
    ("infer(spec, runner='numpy')", "AttributeError", python("symconv.infer(spec, runner='numpy')"), 60),
    ("general_formulas([2])", "TypeError: unhashable", python("symconv.general_formulas([2])"), 60),
    ("literal_derivation(gradients=None)", "TypeError", python("symconv.literal_derivation(spec, gradients=None)"), 60),
    ("explain(spec, x=np.zeros(3e7))", "6 s and 1.4 GB, then refused",
     python("symconv.explain(spec, x=np.zeros(3 * 10**7))"), 60),
    ("register_backend: paths raises", "KeyError traceback",
     python(BROKEN_BACKEND + "    def paths(self, spec, quantity):\n        raise KeyError(quantity)\n"
            "register_backend('broken', Broken)\ncheck(spec, 'broken')"), 60),
    ("register_backend: __init__ raises", "RuntimeError traceback",
     python(BROKEN_BACKEND + "    def __init__(self, *a, **k):\n        raise RuntimeError('no GPU')\n"
            "register_backend('broken', Broken)\ncheck(spec, 'broken')"), 60),
    ("register_backend: variant_options = 5", "every command's parser fails (TypeError)",
     python(BROKEN_BACKEND + "    variant_options = 5\nregister_backend('broken', Broken)\n"
            "from symconv.cli import build_parser\nbuild_parser()"), 60),
    ("sweep --workers 1000", "570+ processes, 7 GB",
     cli("sweep", "--backend", "numpy", "--ops", "conv1d", "--workers", "1000"), 60),
    ("sweep --scheduler: an HTTP server", "49-line traceback: Unable to allocate 3.07 EiB",
     cli("sweep", "--backend", "numpy", "--ops", "conv1d", "--scheduler", HTTP_SERVER), 60),
    ("sweep --scheduler: a silent listener", "hangs past the stated 30 s",
     cli("sweep", "--backend", "numpy", "--ops", "conv1d", "--scheduler", SILENT_SERVER), 90),
    ("trace --input 1x8x8x99999999999999999", "MemoryError traceback (711 PiB)",
     cli("trace", "--input", "1x8x8x99999999999999999", "--layers", "conv2d 3x3", "--entry", "out[0,0,0,0]"), 60),
    ("trace --layers upsample 100000000", "allocates without end",
     cli("trace", "--input", "1x8x8x1", "--layers", "upsample 100000000", "--entry", "out[0,0,0,0]"), 60),
    ("trace, 1,000 conv layers", "OverflowError traceback",
     cli("trace", "--input", "1x8x8x1", "--layers", " > ".join(["conv2d 3x3 SAME c1"] * 1000),
         "--entry", "out[0,0,0,0]"), 60, "paths:"),
    ("trace, 300 conv layers c2: the most paths", "OverflowError traceback (120 layers: exit 0, a wrong entry)",
     cli("trace", "--input", "1x8x8x3", "--layers", DEEP, "--entry", "out[0,0,0,0]"), 60, "paths:"),
    ("trace, 400 nested add(", "RecursionError traceback",
     cli("trace", "--input", "1x8x8x1", "--layers", "add( " * 400 + "relu" + " | )" * 400,
         "--entry", "out[0,0,0,0]"), 60),
    ("trace(..., (0, 0.5, 0, 0))", "0.5 truncated to 0: an answer",
     python("from symconv.network import trace\n"
            "print(trace('conv2d 3x3 SAME c1', 'out', (0, 0.5, 0, 0), input_shape='1x4x4x1'))"), 60),
    ("trace --torch: the factory calls sys.exit(0)", "exit 0, no output",
     cli("trace", "--torch", f"{TORCH_FACTORY['exits']}:build", "--input", "1x3x8x8", "--entry", "out[0,0,0,0]"),
     120),
    ("trace --torch: the factory sleeps (--timeout 10)", "hangs",
     cli("trace", "--torch", f"{TORCH_FACTORY['sleeps']}:build", "--input", "1x3x8x8", "--entry", "out[0,0,0,0]",
         "--timeout", "10"), 120),
    ("trace --png missing/x.png", "traceback after the answer",
     cli("trace", "--input", "1x8x8x1", "--layers", "conv2d 3x3", "--entry", "out[0,0,0,0]", "--png",
         str(SCRATCH / "missing" / "x.png")), 60),
    ("port --verify, 1x20000x20000x1", "ZeroDivisionError traceback",
     cli("port", "conv2d", "--input", "1x20000x20000x1", "--kernel", "3x3x1x1", "--to", "torch", "--verify"), 120),
]


REPORT_ON_STDERR = {"check --png - (a pipe)"}
VERDICT_KEYS = ("symconv: error", "SymconvError", "InvalidOutput", "crash:", "SystemExit", "error:", "Error:",
                "every checked quantity", "DIFFERS", "wrote", "y[0,0,0,0] =", "symconv")


def summary(out: str, err: str, pick: str | None = None) -> str:
    """The line that says what happened (the first with ``pick`` in it, if given)."""
    lines = [ln.strip() for ln in (err.strip().splitlines() + out.strip().splitlines()) if ln.strip()]
    for key in ((pick,) if pick else ()) + VERDICT_KEYS:
        hit = next((ln for ln in lines if key in ln), None)
        if hit:
            return hit[:160]
    return lines[0][:160] if lines else ""


def peak_rss_mb(command: list, timeout: float, pick: str | None = None) -> tuple[dict, float]:
    """Run command; (measurement, peak RSS in MB of it and the processes it waited for)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                            cwd=ROOT)   # a picture written to standard output is bytes
    out_chunks, err_chunks = [], []

    def pump(stream, into):
        into.append(stream.read())
    readers = [threading.Thread(target=pump, args=(proc.stdout, out_chunks)),
               threading.Thread(target=pump, args=(proc.stderr, err_chunks))]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.kill(proc.pid, signal.SIGKILL)
        time.sleep(0.01)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    out, err = "".join(out_chunks), "".join(err_chunks)
    return ({"exit": proc.returncode, "seconds": round(wall, 2), "verdict": summary(out, err, pick),
             "traceback": "Traceback" in err, "stderr_lines": len(err.strip().splitlines())},
            round(usage.ru_maxrss / 1024, 1))


def parent_death() -> dict:
    """symconv killed (SIGKILL) while its worker spins in a call: how long the worker outlives it."""
    proc = subprocess.Popen(cli("check", *FOUNDING, "--impl", impl("spins")), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=ROOT)
    worker = None
    end = time.monotonic() + 60
    while worker is None and time.monotonic() < end:
        try:
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            worker = int(children[0]) if children else None
        except OSError:
            pass
        time.sleep(0.05)
    time.sleep(1.0)  # the worker is in the spinning call now
    proc.kill()
    proc.wait()
    killed = time.perf_counter()
    while time.perf_counter() - killed < 30:
        try:
            state = Path(f"/proc/{worker}/stat").read_text().split(") ")[-1][0]
            if state in "ZX":
                break
        except OSError:
            break
        time.sleep(0.01)
    return {"name": "symconv killed while its worker spins", "before": "the worker keeps spinning at 100% CPU",
            "exit": None, "seconds": round(time.perf_counter() - killed, 2),
            "verdict": f"worker {worker} ended {time.perf_counter() - killed:.2f} s after symconv was killed",
            "traceback": False, "stderr_lines": 0, "peak_rss_mb": None}


def setsid_grandchild() -> dict:
    """An impl whose forward double-forks a `sleep 300` that leaves the worker's session
    (setsid): whether the sleep outlives `symconv check`."""
    pids = SCRATCH / "setsid_pids"
    env = {**os.environ, "FORK_PID_FILE": str(pids)}
    start = time.perf_counter()
    done = subprocess.run(cli("check", *FOUNDING, "--impl", impl("setsid_grandchild")), capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)
    wall = time.perf_counter() - start
    left = [int(p) for p in pids.read_text().split()] if pids.exists() else []
    time.sleep(0.5)
    alive = []
    for pid in left:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[-1][0] not in "ZX":
                alive.append(pid)
        except OSError:
            pass
    for pid in alive:  # never leave it behind, whatever the result
        os.kill(pid, signal.SIGKILL)
    verdict = (f"the setsid grandchild {'outlived' if alive else 'did not outlive'} the run; "
               f"{summary(done.stdout, done.stderr)}")
    return {"name": "impl's grandchild leaves the session (setsid)", "before": "sleep 300 outlives the run",
            "exit": done.returncode, "seconds": round(wall, 2), "verdict": verdict,
            "traceback": "Traceback" in done.stderr, "stderr_lines": len(done.stderr.strip().splitlines()),
            "peak_rss_mb": None, "left_running": len(alive)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="names (substrings) of the examples to run")
    args = parser.parse_args()
    peak_rss_mb(cli("--version"), 60)  # warm the file cache
    startup = statistics.median(peak_rss_mb(cli("--version"), 60)[0]["seconds"] for _ in range(5))
    print(f"start-up (python -m symconv --version, median of 5): {startup:.2f} s", flush=True)
    rows = []
    for name, before, command, timeout, *pick in EXAMPLES:
        if args.only and not any(part in name for part in args.only):
            continue
        result, rss = peak_rss_mb(command, timeout, *pick)
        rows.append({"name": name, "before": before, **result,
                     "beyond_startup_s": round(result["seconds"] - startup, 2), "peak_rss_mb": rss})
        print(f"{name:<48} exit {result['exit']!s:>4}  {result['seconds']:6.2f} s  {rss:7.1f} MB  "
              f"{result['verdict'][:90]}", flush=True)
    if sys.platform.startswith("linux") and (not args.only or any("killed" in p for p in args.only)):
        rows.append(parent_death())
        print(f"{rows[-1]['name']:<48} {'':>9}  {rows[-1]['seconds']:6.2f} s  {'':>10}  {rows[-1]['verdict']}")
    if sys.platform.startswith("linux") and (not args.only or any("setsid" in p for p in args.only)):
        rows.append(setsid_grandchild())
        print(f"{rows[-1]['name']:<48} exit {rows[-1]['exit']!s:>4}  {rows[-1]['seconds']:6.2f} s  {'':>10}  "
              f"{rows[-1]['verdict'][:90]}")
    print("\n| example | before | exit | time (beyond start-up) | peak RSS | what it says now |\n"
          "|---|---|---|---|---|---|")
    for row in rows:
        rss = "" if row["peak_rss_mb"] is None else f"{row['peak_rss_mb']:.0f} MB"
        beyond = f" ({row['beyond_startup_s']:.2f} s)" if "beyond_startup_s" in row else ""
        print(f"| {row['name']} | {row['before']} | {'' if row['exit'] is None else row['exit']} | "
              f"{row['seconds']:.2f} s{beyond} | {rss} | {row['verdict'].replace('|', '/')[:120]} |")
    if not args.only:
        RESULTS.write_text(json.dumps({"machine": platform.platform(), "processor_count": os.cpu_count(),
                                       "python": platform.python_version(), "startup_s": startup,
                                       "load_average": os.getloadavg(), "examples": rows}, indent=1) + "\n")
    # With an output on standard output ('-'), the report goes to standard error by design.
    failures = [r for r in rows if r["traceback"] or r.get("left_running")
                or (r["stderr_lines"] > 1 and r["name"] not in REPORT_ON_STDERR)]
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
