"""Hypothesis strategies: valid ConvSpecs over every op, data format, kernel layout, padding,
convention and groups."""

from hypothesis import assume
from hypothesis import strategies as st

from symconv.errors import SymconvError
from symconv.model import conventions
from symconv.model.spec import DATA_FORMATS, KERNEL_LAYOUTS, OPS, ConvSpec


@st.composite
def specs(draw, ops=tuple(OPS), max_size=9, max_kernel=4, max_stride=4, max_dilation=3,
          max_channels=3, max_batch=2, allow_empty=False, max_elements=None):
    op = draw(st.sampled_from(ops))
    nd, kind = OPS[op]
    fmt = draw(st.sampled_from(DATA_FORMATS[nd]))
    spatial = [draw(st.integers(1, max_size)) for _ in range(nd)]
    ks = [draw(st.integers(1, max_kernel)) for _ in range(nd)]
    strides = [draw(st.integers(1, max_stride)) for _ in range(nd)]
    dilations = [draw(st.integers(1, max_dilation)) for _ in range(nd)]
    padding = draw(st.one_of(
        st.just("SAME"), st.just("VALID"),
        st.lists(st.tuples(st.integers(-2, 3), st.integers(-2, 3)), min_size=nd, max_size=nd).map(tuple)))
    convention = draw(st.sampled_from(sorted(conventions.REGISTRY)))
    batch = draw(st.integers(1, max_batch))
    groups = 1 if kind == "depthwise" else draw(st.sampled_from([1, 1, 2, 3]))
    per_in = draw(st.integers(1, max(1, max_channels // groups)))
    per_out = draw(st.integers(1, max(1, max_channels // groups)))
    if kind == "conv":
        c_in, kernel = groups * per_in, (*ks, per_in, groups * per_out)
    elif kind == "depthwise":
        c_in = draw(st.integers(1, max_channels))
        kernel = (*ks, c_in, draw(st.integers(1, 2)))
    else:  # transpose: input is the small side, kernel (spatial..., big // groups, small)
        c_in, kernel = groups * per_in, (*ks, per_out, groups * per_in)
    shape = (batch, *spatial, c_in) if fmt.endswith("C") else (batch, c_in, *spatial)
    kernel_layout, kernel = draw(kernel_layouts(nd, kind, kernel))
    try:
        spec = ConvSpec(op, shape, kernel, tuple(strides), tuple(dilations), padding, convention, fmt, groups,
                        kernel_layout=kernel_layout)
    except SymconvError:
        assume(False)
    assume(allow_empty or not spec.is_empty)
    if max_elements is not None:
        from symconv.symbolic.expressions import literal_size
        assume(literal_size(spec) <= max_elements)
    return spec


@st.composite
def kernel_layouts(draw, nd, kind, tf_kernel):
    """(kernel layout letters, the kernel's shape in it) for a kernel given in TensorFlow's layout:
    TensorFlow's own most of the time, PyTorch's, or a random permutation of the letters."""
    spatial = "DHW"[3 - nd:]
    tf = KERNEL_LAYOUTS["tf"][kind].format(spatial)
    sizes = dict(zip(tf, tf_kernel))
    choice = draw(st.sampled_from(["tf", "tf", "torch", "shuffled"]))
    if choice == "tf":
        return tf, tuple(tf_kernel)
    if "C" in sizes:   # a depthwise kernel as its grouped convolution's, I = 1
        sizes = {**sizes, "I": 1, "O": sizes["C"] * sizes["M"]}
    letters = KERNEL_LAYOUTS["torch"][kind].format(spatial) if choice == "torch" else \
        "".join(draw(st.permutations(spatial + "IO")))
    return letters, tuple(sizes[a] for a in letters)
