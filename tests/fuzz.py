"""Fuzzing symconv's command line and Python API with hostile values (run by test_fuzz.py).

``python -m tests.fuzz`` runs every fuzz target in this process and exits 0 when Hypothesis found
nothing: the same 2,000 examples on every run (SYMCONV_FUZZ_EXAMPLES sets the count), or new
ones with SYMCONV_FUZZ_EXPLORE=1; then SURFACE_EXAMPLES more on sweep, matrix, trace and port
(SYMCONV_FUZZ_SURFACES sets the count), kept cheap: tiny cases, conv1d-sized sweeps, NumPy or
an impl file in this process, no framework imported.  test_fuzz.py runs it in a child with a memory limit, so that
a request which allocates without bound fails the run instead of the machine.  Each example
must end within EXAMPLE_SECONDS with one of: an answer, a verdict, or one line of error and exit
status 2; never a traceback, and never exit 0 for an implementation that is wrong on its spec.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import tempfile
import traceback

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symconv
from symconv.cli import build_parser, join_negative_values, main
from symconv.commands.arguments import spec_from_args
from symconv.model.spec import OPS

from . import paths

EXAMPLES = int(os.environ.get("SYMCONV_FUZZ_EXAMPLES", "2000"))
SURFACE_EXAMPLES = int(os.environ.get("SYMCONV_FUZZ_SURFACES", "40"))
EXAMPLE_SECONDS = 20
HOSTILE = str(paths.HOSTILE)
# Wrong on every spec: what they return is never an answer, even where the spec admits no
# output (where an exception is a correct refusal) ...
NEVER_AN_ANSWER = ["complex_output", "string_output", "object_output", "bool_output", "none_output",
                   "ragged_output", "huge_output", "exits", "interrupts"]
# ... and wrong on every spec with an output.
WRONG = NEVER_AN_ANSWER + ["nan_output", "long_message", "off_by_half", "recursion_bomb"]
RIGHT = ["_correct"]
SCRATCH = tempfile.mkdtemp(prefix="symconv-fuzz-")

# The same examples on every run (the suite stays deterministic); SYMCONV_FUZZ_EXPLORE=1 draws new ones.
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize=not os.environ.get("SYMCONV_FUZZ_EXPLORE"), print_blob=True,
                suppress_health_check=list(HealthCheck))


class Call:
    """A call of the API with its description, for Hypothesis's report of a failing example."""

    def __init__(self, function, *args, **kwargs):
        self.function, self.args, self.kwargs = function, args, kwargs

    def __call__(self):
        return self.function(*self.args, **self.kwargs)

    def __repr__(self):
        args = [repr(a)[:200] for a in self.args] + [f"{k}={v!r}"[:200] for k, v in self.kwargs.items()]
        return f"{self.function.__name__}({', '.join(args)})"


class Hung(Exception):
    """An example ran past EXAMPLE_SECONDS."""


@contextlib.contextmanager
def time_limit(seconds: float):
    def ring(signum, frame):
        raise Hung(f"no answer within {seconds} s")
    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ---- hostile values ----------------------------------------------------------------------

small = st.integers(1, 4)
garbage_text = st.sampled_from(["", " ", "x", "1x", "abc", "-", "--", "0", "-1", "1.5", "nan", "inf", "1e400",
                                "99999999999999999999999", "1" * 400, "1x" * 3000 + "1", "é", "\x00", "1,2,3,4,5,6",
                                "SAME_LOWER", "same", "2:", ":2", "1:2:3", "[1]", "None", "1/0", "0x10"])


def mostly(valid, hostile):
    """valid four times in five, hostile otherwise."""
    return st.sampled_from([False] * 4 + [True]).flatmap(lambda bad: hostile if bad else valid)


def shape_text(rank: int):
    dims = st.lists(st.one_of(small, small, small, st.sampled_from([0, 2**31, 10**12, 3000])),
                    min_size=rank, max_size=rank)
    return st.one_of(dims.map(lambda d: "x".join(map(str, d))), garbage_text,
                     st.lists(small, min_size=1, max_size=7).map(lambda d: "x".join(map(str, d))))


def per_axis_text(nd: int, low: int):
    value = mostly(st.integers(low, 3), st.sampled_from([0, -1, 3000, 20000, 2**31, 2**40]))
    return mostly(st.one_of(value.map(str), st.lists(value, min_size=nd, max_size=nd).map(
        lambda v: ",".join(map(str, v)))), garbage_text)


def padding_text(nd: int):
    pad = mostly(st.integers(-3, 3), st.sampled_from([3000, -3000, 20000, 2**31, 10**20]))
    pair = st.tuples(pad, pad).map(lambda p: f"{p[0]}:{p[1]}")
    return mostly(st.one_of(st.sampled_from(["SAME", "VALID", "same", "valid"]), pair,
                            st.lists(pair, min_size=nd, max_size=nd).map(",".join)), garbage_text)


def values_text():
    number = mostly(st.integers(-5, 5), st.one_of(st.integers(-2**70, 2**70), st.sampled_from(
        ["1/3", "-0.25", "0.1", "1e23", "1e999999", "nan", "-inf", "1/0", "x", ""])))
    return mostly(st.one_of(number.map(str), st.lists(number, min_size=1, max_size=12).map(
        lambda v: ",".join(map(str, v)))), garbage_text)


def entry_text(nd: int):
    index = mostly(st.sampled_from([0, 0, 1]), st.sampled_from([-1, 2, 3, 2**31, 10**30]))
    indexed = st.tuples(st.sampled_from(["y", "dk", "dx"]), st.lists(index, min_size=nd + 2, max_size=nd + 2)).map(
        lambda t: f"{t[0]}[{','.join(map(str, t[1]))}]")
    return mostly(st.one_of(st.sampled_from(["y", "dk", "dx"]), indexed), garbage_text)


def impl_path():
    return mostly(st.sampled_from(WRONG + RIGHT).map(lambda n: os.path.join(HOSTILE, f"{n}.py")),
                  st.sampled_from(["missing.py", HOSTILE, os.path.join(paths.TESTS, "conftest.txt"), "", "-"]))


def output_path():
    return st.sampled_from([os.path.join(SCRATCH, "out.tex"), os.path.join(SCRATCH, "missing", "x.tex"), SCRATCH,
                            "/dev/full", "", os.path.join(SCRATCH, "out\x01.tex")])


claims = st.one_of(garbage_text, st.sampled_from([
    "y[i] = x[i]*k[0]", "dk[a] = sum(i=0..OH-1) g[i]*x[S*i+D*a-P]", "dx[h] = g[h]*k[0]", "y[0,0,0] = 0",
    "y[99] = x[0]*k[0]", "dk[a] = sum(i=0..9999999999) g[i]", "__import__('os')", "y[i] = (((((x[i]))))",
    "dk[a] = [a % 0 == 0] * x[a]", "dx[h] = x[h//0]"]))


@st.composite
def spec_args(draw):
    """A coherent convolution (so that most examples get past validation), then, now and then,
    one field replaced by a hostile value."""
    op = draw(st.sampled_from(sorted(OPS)))
    nd, kind = OPS[op]
    spatial = draw(st.lists(st.integers(1, 4), min_size=nd, max_size=nd))
    taps = draw(st.lists(st.integers(1, 3), min_size=nd, max_size=nd))
    batch, c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    kernel = {"conv": [*taps, c_in, c_out], "depthwise": [*taps, c_in, c_out], "transpose": [*taps, c_out, c_in]}[kind]
    first = draw(st.booleans())
    x = [batch, *spatial, c_in] if first else [batch, c_in, *spatial]
    fields = {"op": op, "--input": "x".join(map(str, x)), "--kernel": "x".join(map(str, kernel)),
              "--data-format": ("NWC", "NHWC", "NDHWC")[nd - 1] if first else ("NCW", "NCHW", "NCDHW")[nd - 1]}
    optional = {"--strides": per_axis_text(nd, 1), "--dilations": per_axis_text(nd, 1), "--padding": padding_text(nd),
                "--convention": mostly(st.sampled_from(["tf", "same_lower", "legacy_eigen", "torch"]),
                                       st.sampled_from(["caffe", "", "TF"])),
                "--groups": mostly(st.just("1"), st.one_of(st.integers(-1, 3).map(str), garbage_text))}
    if kind == "transpose":
        optional["--output-shape"] = shape_text(nd + 2)
    for option in draw(st.lists(st.sampled_from(sorted(optional)), max_size=3, unique=True)):
        fields[option] = draw(optional[option])
    if draw(st.sampled_from([False] * 7 + [True])):
        hostile = draw(st.sampled_from(["op", "--input", "--kernel", "--data-format"]))
        fields[hostile] = draw({"op": garbage_text, "--data-format": st.sampled_from(["HWC", "", "nchw", "NCDHW"])}
                               .get(hostile, shape_text(nd + 2)))
    argv = [fields.pop("op")]
    for option, value in fields.items():
        argv += [option, value]
    return nd, argv


@st.composite
def cli_argv(draw):
    command = draw(st.sampled_from(["which"] * 5 + ["explain"] * 2 + ["check"] * 3 + ["infer"] * 2
                                   + ["latex", "prove"]))
    nd, spec = draw(spec_args())
    argv = [command, *spec]
    if command == "which":
        argv += [arg for e in draw(st.lists(entry_text(nd), min_size=1, max_size=2)) for arg in ("--entry", e)]
    if command in ("explain", "latex"):
        for tensor in draw(st.lists(st.sampled_from(["--x", "--k", "--g"]), max_size=3, unique=True)):
            argv += [tensor, draw(values_text())]
    if command == "latex":
        argv += ["--entry", draw(entry_text(nd)), "-o", draw(output_path())]
    if command == "prove":
        argv += ["--claim", draw(claims)]
    if command in ("check", "infer") or (command == "explain" and draw(st.booleans())):
        if draw(st.sampled_from([False] * 9 + [True])):
            argv += ["--backend", draw(st.sampled_from(["numpy", "torchx", ""]))]
        else:
            argv += ["--impl", draw(impl_path())]
        argv += ["--in-process"]
        extra = {"--timeout": st.one_of(st.sampled_from(["1", "0", "-1", "inf", "nan", "1e999"]), garbage_text),
                 "--threads": st.one_of(st.integers(-1, 4).map(str), garbage_text)}
        if command in ("check", "infer"):
            extra["--seed"] = st.one_of(st.integers(-2, 2**70).map(str), garbage_text)
        if command == "check":
            extra.update({"--max-mismatches": st.one_of(st.integers(-1, 3).map(str), garbage_text),
                          "--miss-probability": st.sampled_from(["0.5", "0", "1", "-1", "nan", "1e-300", "x"])})
        for option in draw(st.lists(st.sampled_from(sorted(extra)), max_size=2, unique=True)):
            argv += [option, draw(extra[option])]
    if command in ("which", "explain", "check", "infer") and draw(st.booleans()):
        argv.append("--json")
    return argv


# ---- sweep, matrix, trace and port -------------------------------------------------------------

count_text = st.one_of(st.sampled_from(["1"] * 6), st.sampled_from(
    ["0", "-1", "1000", "99999999999999999999", "1.5", "٣", "²", " ", "x", "", "1e3", "2"]))
scheduler_text = st.sampled_from(["", " ", "x", "tcp://127.0.0.1:1", "udp://1.2.3.4:1", "tcp://[::1]:99999",
                                  "inproc://nothing", "tcp://h\x01st:1", "tcp://" + "a" * 300 + ":1"])
ops_text = mostly(st.just("conv1d"), st.one_of(garbage_text, st.sampled_from(["conv1d,", ",,", "conv1d,conv9d"])))


def _options(draw, table) -> list:
    out = []
    for option in draw(st.lists(st.sampled_from(sorted(table)), max_size=3, unique=True)):
        value = draw(table[option])
        out += [option] if value is None else [option, value]
    return out


@st.composite
def sweep_argv(draw):
    target = draw(mostly(st.just(["--backend", "numpy"]), st.one_of(
        impl_path().map(lambda p: ["--impl", p]), st.sampled_from([["--backend", ""], ["--backend", "caffe"]]))))
    argv = ["sweep", *target, "--in-process", "--ops", draw(ops_text), "--workers", draw(count_text)]
    return argv + _options(draw, {
        "--scheduler": scheduler_text, "--seed": st.one_of(st.integers(-2, 2**70).map(str), garbage_text),
        "--timeout": st.sampled_from(["1", "0", "-1", "nan", "1e999", "x"]), "--no-shrink": st.none(),
        "--json": output_path(), "--size": st.sampled_from(["quick", "huge", ""])})


@st.composite
def matrix_argv(draw):
    argv = ["matrix", "--backends", draw(mostly(st.just("numpy"), st.sampled_from(["", "caffe", "numpy,,", "é"]))),
            "--ops", draw(ops_text), "--workers", draw(count_text)]
    return argv + _options(draw, {"--scheduler": scheduler_text, "-o": output_path(),
                                  "--size": st.sampled_from(["quick", "huge"])})


WINDOWS = {"conv2d": "sdcg", "depthwise": "sdm", "separable": "sdmc", "transpose": "sdc", "maxpool": "sd",
           "avgpool": "sd"}


@st.composite
def window_text(draw):
    kind = draw(st.sampled_from(sorted(WINDOWS)))
    size = draw(mostly(st.integers(1, 3).map(str), st.sampled_from(["0", "99999999999", "3x3x3", "9" * 30, "1.5"])))
    words = [kind, f"{size}x{size}" if size.isdigit() else size]
    for letter in draw(st.lists(st.sampled_from(WINDOWS[kind]), max_size=2, unique=True)):
        words.append(f"{letter}{draw(mostly(st.integers(1, 3), st.sampled_from([0, 10**11, 10**30])))}")
    words.append(draw(mostly(st.sampled_from(["SAME", "VALID", "p1"]),
                             st.sampled_from(["CAUSAL", "p-1", "p1:2,0:1", "p99999999999", "q7"]))))
    return " ".join(words)


def layer_text():
    simple = st.sampled_from(["relu", "bn", "gap", "gmp keepdims", "flatten", "dense c3", "softmax", "pad 1",
                              "crop 1", "upsample 2", "upsample 2 bilinear", "slice 0:4:2"])
    hostile = st.sampled_from(["dense c0", "pad 99999999999", "crop 9", "upsample 99999999", "slice 0:8:0",
                               "slice ::-1", "conv1d 3", "conv3d 3", "identity q", "é", ""])
    return mostly(st.one_of(window_text(), window_text(), simple), hostile)


@st.composite
def chain_text(draw):
    layers = draw(st.lists(layer_text(), min_size=1, max_size=4))
    if draw(st.booleans()):   # a block whose branch keeps the shape (mostly)
        kind = draw(st.sampled_from(["add", "concat"]))
        branch = draw(mostly(st.sampled_from(["relu", "conv2d 3x3 SAME c1", "avgpool 3x3 s1 SAME"]), layer_text()))
        layers.insert(draw(st.integers(0, len(layers))), f"{kind}( {branch} | )")
    if draw(st.sampled_from([False] * 9 + [True])):
        layers = [draw(st.sampled_from(["relu", "conv2d 3x3 SAME c1"]))] * draw(st.sampled_from([300, 10_001]))
    if draw(st.sampled_from([False] * 9 + [True])):
        return "add( " * 60 + "relu" + " | )" * 60
    return " > ".join(layers)


@st.composite
def trace_argv(draw):
    argv = ["trace", "--layers", draw(chain_text()), "--input",
            draw(mostly(st.sampled_from(["1x8x8x1", "1x6x6x2"]), shape_text(4)))]
    index = mostly(st.sampled_from(["0", "0", "1"]), st.sampled_from(["-1", "9", "0.5", "1e3", "99999999999999999999"]))
    count = mostly(st.just(4), st.sampled_from([1, 2, 3, 5]))
    name = mostly(st.sampled_from(["out", "out", "l1", "x"]), st.sampled_from(["nope", ""]))
    entry = st.tuples(name, count.flatmap(lambda n: st.lists(index, min_size=n, max_size=n))).map(
        lambda t: f"{t[0]}[{','.join(t[1])}]")
    question = draw(st.sampled_from(["--entry", "--entry", "--pixel", "--summary"]))
    if question == "--pixel":
        entry = entry.map(lambda e: "x" + e[e.index("["):])
    argv += [question] if question == "--summary" else [question, draw(mostly(entry, garbage_text))]
    argv += _options(draw, {"--json": st.none(), "--layer": st.sampled_from(["l1", "out", "nope", ""]),
                            "--convention": mostly(st.just("tf"), st.sampled_from(["caffe", "", "TF"])),
                            "--latex": output_path()})
    if draw(st.sampled_from([False] * 4 + [True])):
        argv += _options(draw, {"--check": st.none(), "--timeout": st.sampled_from(["1", "0", "nan", "x"]),
                                "--torch": st.sampled_from(["missing.py:build", "x", "", HOSTILE + ":build"]),
                                "--model": st.sampled_from(["missing.keras", ""])})
    return argv


@st.composite
def port_argv(draw):
    _, spec = draw(spec_args())
    frameworks = st.sampled_from(["tf", "torch", "jax", "onnx"])
    argv = ["port", *spec, "--to", draw(mostly(frameworks, garbage_text)), "--no-verify"]
    return argv + _options(draw, {"--from": mostly(frameworks, garbage_text), "--json": st.none(),
                                  "--seed": st.one_of(st.integers(-2, 2**70).map(str), garbage_text)})


surface_argv = st.one_of(sweep_argv(), matrix_argv(), trace_argv(), trace_argv(), port_argv())


def fuzz_surfaces(argv):
    """sweep, matrix, trace and port: exit 0 to 3, no traceback, one line for bad usage, within
    EXAMPLE_SECONDS."""
    code, out, err = run_main(argv)
    assert code in (0, 1, 2, 3), (code, err)
    assert "Traceback" not in err and "Traceback" not in out, err
    if code == 2:
        lines = err.splitlines()
        assert len(lines) == 1 and "error: " in lines[0] and len(lines[0]) < 800, err


def run_main(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), time_limit(EXAMPLE_SECONDS):
        try:
            code = main(argv)
        except SystemExit as done:  # argparse: usage errors
            code = done.code
    return code, out.getvalue(), err.getvalue()


def wrong_impl(argv) -> bool:
    """Whether the command checks an implementation that is wrong on its spec."""
    if "--impl" not in argv:
        return False
    name = os.path.basename(argv[argv.index("--impl") + 1])[:-3]
    if name in NEVER_AN_ANSWER:
        return True
    args = build_parser().parse_args(join_negative_values(build_parser(), argv))
    return name in WRONG and not spec_from_args(args).is_empty


def fuzz_cli(argv):
    code, out, err = run_main(argv)
    assert code in (0, 1, 2, 3), (code, err)  # 3: nothing was checked (skipped or unsupported)
    assert "Traceback" not in err and "Traceback" not in out, err
    if code == 2:
        lines = err.splitlines()
        assert len(lines) == 1 and "error: " in lines[0] and len(lines[0]) < 800, err
    if code == 0 and argv[0] in ("check", "infer", "explain"):
        assert not wrong_impl(argv), f"exit 0 for a wrong implementation:\n{out}"
    if code in (0, 1, 3) and "--json" in argv:
        json.loads(out, parse_constant=_refuse_constant)


def _refuse_constant(name):
    raise AssertionError(f"invalid JSON: {name}")


# ---- the Python API --------------------------------------------------------------------------

hostile_value = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.integers(-2**80, 2**80),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6), garbage_text, st.complex_numbers(),
    st.lists(st.integers(-3, 3), max_size=6), st.tuples(st.integers(-3, 3), st.integers(-3, 3)),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.sampled_from([np.int64(2), np.float32(1.5), np.array([1, 2]), np.zeros((2, 2)), np.array(["a"]),
                     np.array([1 + 1j]), object(), b"bytes", 1.5, -0.0, 2**63, range(3)]))

SPECS = [symconv.ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME"),
         symconv.ConvSpec("conv1d_transpose", "1x3x2", "2x1x2", strides=2, padding="SAME"),
         symconv.ConvSpec("depthwise_conv2d", "1x2x3x2", "2x2x2x1", padding="VALID", data_format="NHWC"),
         symconv.ConvSpec("conv2d", "1x2x2x1", "3x3x1x1", padding="VALID")]


def _filled(shape, fill, dtype):
    with np.errstate(over="ignore"):  # 2**62 as float16 is infinity, on purpose
        try:
            return np.full(shape, fill, dtype=dtype)
        except OverflowError:  # -1 as uint64, 2**62 as int8
            return np.full(shape, 1, dtype=dtype)


def tensor_for(spec, name):
    return st.one_of(hostile_value, st.builds(
        lambda dtype, fill: _filled(spec.shape_of(name), fill, dtype),
        st.sampled_from([np.int64, np.float64, np.uint64, np.int8, object, np.bool_, np.complex128, np.float16]),
        st.sampled_from([0, 1, -1, 3, 2**40, 2**62])))


@st.composite
def api_call(draw):
    spec = draw(st.sampled_from(SPECS))
    choice = draw(st.sampled_from(["spec", "which", "evaluate", "terms", "closed_form", "check", "explain", "infer",
                                   "sweep", "trace", "port", "plugin"]))
    quantity = draw(st.one_of(st.sampled_from(["y", "dk", "dx", "forward", "filter_grad", "input_grad"]),
                              hostile_value))
    index = draw(st.one_of(st.lists(st.integers(-1, 3), min_size=3, max_size=5).map(tuple), hostile_value))
    if choice == "spec":
        fields = draw(st.dictionaries(st.sampled_from(["strides", "dilations", "padding", "convention", "data_format",
                                                       "groups", "output_shape_request"]), hostile_value, max_size=3))
        op = draw(st.one_of(st.sampled_from(sorted(OPS)), hostile_value))
        return Call(symconv.ConvSpec, op, draw(st.one_of(hostile_value, st.just("1x3x3x1"))),
                    draw(st.one_of(hostile_value, st.just("1x1x1x1"))), **fields)
    if choice == "which":
        fields = draw(st.dictionaries(st.sampled_from(["input", "kernel", "strides", "padding", "stride", "inputs"]),
                                      hostile_value, max_size=3))
        target = draw(st.one_of(st.just(spec), st.sampled_from(sorted(OPS)), hostile_value))
        entry = draw(st.one_of(entry_text(2), hostile_value))
        return Call(symconv.which, target, entry, **fields)
    if choice == "evaluate":
        x, k, g = (draw(tensor_for(spec, n)) for n in ("x", "k", "g"))
        return Call(symconv.evaluate, spec, quantity, x=x, k=k, g=g)
    if choice == "terms":
        return Call(symconv.terms, draw(st.one_of(st.just(spec), hostile_value)), quantity, index)
    if choice == "closed_form":
        return Call(symconv.closed_form, spec, quantity, index)
    if choice == "check":
        from symconv import check
        options = draw(st.dictionaries(st.sampled_from(["seed", "timeout", "max_mismatches", "miss_probability",
                                                        "variant", "grad_path", "quantities", "repeat", "runner"]),
                                       hostile_value, max_size=2))
        backend = draw(st.one_of(st.just("numpy"), hostile_value))
        return Call(check, spec, backend, **options)
    if choice == "infer":
        options = draw(st.dictionaries(st.sampled_from(["seed", "timeout", "grad_path", "runner", "isolate"]),
                                       hostile_value, max_size=2))
        return Call(symconv.infer, spec, draw(st.one_of(st.just("numpy"), hostile_value)), **options)
    if choice == "sweep":
        # One tiny case in this process: a valid draw runs in milliseconds, a hostile one is refused.
        from symconv.sweeps.cases import sweep_cases
        options = draw(st.dictionaries(st.sampled_from(["workers", "layouts", "kernel_layouts", "paddings",
                                                        "conventions", "groups", "repeat", "size", "seed", "ops"]),
                                       hostile_value, max_size=3))
        case = sweep_cases("quick", ["conv1d"])[0]
        return Call(symconv.sweep, "numpy", cases=[case], isolate=False, progress=False, shrink=False,
                    confirm=False, **{k: v for k, v in options.items() if k not in ("size", "ops")})
    if choice == "trace":
        entry = draw(st.one_of(st.lists(st.integers(-1, 4), min_size=4, max_size=4).map(tuple), hostile_value))
        return Call(symconv.trace, draw(st.one_of(st.just("conv2d 3x3 SAME c1"), hostile_value)), "out", entry,
                    input_shape=draw(st.one_of(st.just("1x4x4x1"), hostile_value)))
    if choice == "port":
        return Call(symconv.port, spec, to=draw(st.one_of(st.sampled_from(["torch", "tf", "jax", "onnx"]),
                                                          hostile_value)),
                    source=draw(st.one_of(st.sampled_from(["tf", "torch"]), hostile_value)), verify=False)
    if choice == "plugin":
        values = draw(st.dictionaries(st.sampled_from(["symconv_seed", "symconv_repeat", "symconv_ops",
                                                       "symconv_layouts", "symconv_kernel_layouts",
                                                       "symconv_paddings", "symconv_conventions", "symconv_groups"]),
                                      st.one_of(st.text(max_size=12), garbage_text), max_size=3))
        return Call(plugin_options, values)
    from symconv import explain
    tensors = draw(st.dictionaries(st.sampled_from(["x", "k", "g"]), st.one_of(values_text(), hostile_value),
                                   max_size=2))
    return Call(explain, spec, **tensors)


class _Config:
    """The pytest config the plugin reads its options from, holding given values."""

    def __init__(self, values: dict):
        self.values = values

    def getoption(self, name, default=None):
        return self.values.get(name, default)


def plugin_options(values: dict):
    """The plugin's options as a run gives them (text): each is a value or a usage error."""
    from symconv.testing.conformance import filters
    from symconv.testing.plugin import symconv_repeat, symconv_seed
    config = _Config(values)
    return symconv_seed(config), symconv_repeat(config), filters(config)


def fuzz_api(call):
    import pytest
    with time_limit(EXAMPLE_SECONDS):
        try:
            call()
        except (symconv.SymconvError, pytest.UsageError) as err:
            text = str(err)
            assert "\n" not in text and 0 < len(text) <= 600, text


def main_fuzz() -> int:
    targets = [(fuzz_cli, cli_argv(), 3 * EXAMPLES // 4), (fuzz_api, api_call(), EXAMPLES - 3 * EXAMPLES // 4),
               (fuzz_surfaces, surface_argv, SURFACE_EXAMPLES)]
    failed = 0
    for target, strategy, count in targets:
        runner = settings(FUZZ, max_examples=count)(given(strategy)(target))
        try:
            runner()
            print(f"{target.__name__}: {count} examples, nothing found", flush=True)
        except Exception:
            failed += 1
            traceback.print_exc()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main_fuzz())
