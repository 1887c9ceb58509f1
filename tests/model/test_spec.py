"""ConvSpec: parsing, derived shapes, and one clear error for every bad request."""

import pytest

from symconv import ConvSpec, SymconvError
from symconv.model.spec import parse_entry


def test_founding_case():
    spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")
    assert spec.pads == ((0, 0), (0, 0))
    assert spec.y_shape == (1, 1, 1, 1)
    assert ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME",
                    convention="legacy_eigen").pads == ((-1, -1), (-1, -1))


def test_layouts_and_shapes():
    nchw = ConvSpec("conv2d", (2, 3, 10, 7), (3, 3, 3, 8), strides=(2, 1), padding="SAME", data_format="NCHW")
    assert nchw.y_shape == (2, 8, 5, 7)
    depthwise = ConvSpec("depthwise_conv2d", "1x6x6x4", "3x3x4x2", strides=2, padding="VALID")
    assert depthwise.y_shape == (1, 2, 2, 8)
    grouped = ConvSpec("conv2d", "1x5x5x6", "3x3x2x9", groups=3, padding="1:1,0:2")
    assert grouped.pads == ((1, 1), (0, 2)) and grouped.y_shape == (1, 5, 5, 9)
    conv3d = ConvSpec("conv3d", "1x4x5x6x2", "2x2x2x2x3", strides="1,2,3", data_format="NDHWC")
    assert conv3d.y_shape == (1, 3, 2, 2, 3)
    conv1d = ConvSpec("conv1d", "1x2x9", "3x2x4", dilations=2, padding="SAME", data_format="NCW")
    assert conv1d.y_shape == (1, 4, 9) and conv1d.pads == ((2, 2),)


def test_transpose_output_defaults_follow_keras_and_round_trip():
    same = ConvSpec("conv2d_transpose", "1x4x4x2", "3x3x5x2", strides=2, padding="SAME")
    assert same.y_shape == (1, 8, 8, 5) and same.pads == ((0, 1), (0, 1))
    valid = ConvSpec("conv2d_transpose", "1x4x4x2", "3x3x5x2", strides=2, padding="VALID")
    assert valid.y_shape == (1, 9, 9, 5)
    explicit = ConvSpec("conv2d_transpose", "1x4x4x2", "3x3x5x2", strides=2, padding="SAME",
                        output_shape_request="1x7x7x5")
    assert explicit.y_shape == (1, 7, 7, 5) and explicit.pads == ((1, 1), (1, 1))


def test_full_rank_strides_in_tensorflow_form():
    assert ConvSpec("conv2d", "1x9x9x1", "1x1x1x1", strides=[1, 3, 2, 1]).strides == (3, 2)
    assert ConvSpec("conv2d", "1x1x9x9", "1x1x1x1", strides=[1, 1, 3, 2], data_format="NCHW").strides == (3, 2)


def test_empty_output_is_a_valid_spec():
    spec = ConvSpec("conv2d", "1x3x3x1", "5x5x1x1", padding="VALID")
    assert spec.is_empty and spec.y_shape == (1, 0, 0, 1)


BAD = [
    (dict(op="conv4d"), r"op must be one of .*got 'conv4d'"),
    (dict(input_shape="1x3x3"), r"input shape for conv2d must have 4 dimensions .*got \(1, 3, 3\)"),
    (dict(input_shape="1x3xAx1"), r"input shape must look like 1x3x3x1, got '1x3xAx1'"),
    (dict(input_shape="1x0x3x1"), r"input shape must have positive sizes, got \(1, 0, 3, 1\)"),
    (dict(kernel_shape="1x1x2x1"), r"kernel in-channels times groups must equal input channels: 2 x 1 != 1"),
    (dict(strides="0,2"), r"strides must be positive integers, got \(0, 2\)"),
    (dict(strides="1,2,3"), r"strides must have 1 or 2 values .*got \(1, 2, 3\)"),
    (dict(strides="two"), r"strides must be integers, got 'two'"),
    (dict(dilations=-1), r"dilations must be positive integers, got \(-1, -1\)"),
    (dict(padding="SMAE"), r"padding must be SAME, VALID or before:after per axis .*got 'SMAE'"),
    (dict(padding="1:1,1:1,1:1"), r"padding must have one \(before, after\) pair per spatial axis \(2\)"),
    (dict(convention="eigen"), r"convention must be one of .*got 'eigen'"),
    (dict(data_format="NWHC"), r"data_format for conv2d must be NHWC or NCHW, got 'NWHC'"),
    (dict(groups=0), r"groups must be a positive integer, got 0"),
    (dict(input_shape="1x3x3x4", kernel_shape="1x1x2x3", groups=2), r"groups must divide the kernel's out-channels, got 2 and 3"),
    (dict(op="depthwise_conv2d", kernel_shape="1x1x2x1"), r"depthwise kernel in-channels must equal input channels, got 2 and 1"),
    (dict(op="depthwise_conv2d", groups=2), r"groups does not apply to depthwise_conv2d"),
    (dict(op="conv2d_transpose", kernel_shape="1x1x1x2"), r"transposed kernel's in-channels \(I in HWOI\) must equal input channels, got 2 and 1"),
    (dict(op="conv2d_transpose", output_shape_request="1x10x10x1"), r"does not convolve back to the input's spatial size"),
    (dict(output_shape_request="1x3x3x1"), r"output shape can only be given for transposed convolutions"),
    (dict(input_shape="100000x100000x100000x1"), r"input shape has more than 2\*\*31 elements"),
    (dict(strides=10**19), r"strides must be at most 2\*\*31 in size"),
    (dict(padding="0:99999999999,0:0"), r"padding must be at most 2\*\*31 in size, got \(0, 99999999999, 0, 0\)"),
]


@pytest.mark.parametrize("change,message", BAD)
def test_bad_requests_name_the_field_and_value(change, message):
    fields = dict(op="conv2d", input_shape="1x3x3x1", kernel_shape="1x1x1x1", strides=3, padding="SAME")
    fields.update(change)
    with pytest.raises(SymconvError, match=message):
        ConvSpec(**fields)


def test_symconv_error_is_a_value_error():
    with pytest.raises(ValueError):
        ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=0)


@pytest.fixture
def founding():
    return ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")


def test_entries_parse(founding):
    assert parse_entry(founding, "dk[0,0,0,0]") == ("filter_grad", (0, 0, 0, 0))
    assert parse_entry(founding, " y ") == ("forward", None)
    assert parse_entry(founding, "dx[0, 2, 1, 0]") == ("input_grad", (0, 2, 1, 0))


@pytest.mark.parametrize("text,message", [
    ("z[0]", r"entry must look like y\[n,i,j,c\].*got 'z\[0\]'"),
    ("dk[0,0,0]", r"entry dk\[0, 0, 0\] must have 4 indices for shape \(1, 1, 1, 1\)"),
    ("dx[0,3,0,0]", r"entry dx\[0, 3, 0, 0\] is out of range for shape \(1, 3, 3, 1\)"),
    ("y[0,a,0,0]", r"entry indices must be integers, got 'y\[0,a,0,0\]'"),
    ("y[0,-1,0,0]", r"out of range"),
])
def test_bad_entries(founding, text, message):
    with pytest.raises(SymconvError, match=message):
        parse_entry(founding, text)


def test_a_spec_travels_as_its_fields_alone():
    """A backend's worker gets the fields; values computed on demand (which another thread may
    be adding while the spec is pickled) stay behind."""
    import dataclasses
    import pickle
    spec = ConvSpec("conv2d", "1x6x5x3", "3x2x3x1", strides=(1, 2), padding="SAME")
    spec.y_shape, spec.pads  # noqa: B018  computed and kept on the instance
    assert set(spec.__getstate__()) == {f.name for f in dataclasses.fields(ConvSpec)}
    again = pickle.loads(pickle.dumps(spec))
    assert again == spec and (again.y_shape, again.pads) == (spec.y_shape, spec.pads)
