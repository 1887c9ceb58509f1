"""Whole-network provenance against the real models: Keras (tf.GradientTape) and PyTorch
(torch.fx + autograd), with every layer kind symconv maps, a small residual network, and a
deliberately wrong map that the check must catch and name."""

import importlib.util
import os

import pytest

from symconv.network import check, network, trace
from symconv.network.axes import window_table

from ..conftest import backend_missing

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def need(request, backend: str, module: str):
    if importlib.util.find_spec(module) is None:
        backend_missing(request.config, backend, f"{module} is not installed")


# ---- Keras ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keras_models(request):
    need(request, "keras", "keras")
    import keras
    from keras import layers as K

    inp = keras.Input((13, 12, 3), batch_size=2, name="image")
    x = K.ZeroPadding2D(((1, 2), (0, 1)), name="pad")(inp)
    x = K.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="conv")(x)
    x = K.BatchNormalization(name="bn")(x)
    a = K.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="dw")(x)
    a = K.SeparableConv2D(4, 3, dilation_rate=2, padding="same", name="sep")(a)
    b = K.MaxPooling2D(3, strides=1, padding="same", name="maxpool")(x)
    b = K.Conv2D(4, 1, name="pw")(b)
    c = K.Add(name="add")([a, b])
    c = K.ReLU(name="relu")(c)
    c = K.Conv2DTranspose(3, 3, strides=2, padding="same", name="convT")(c)
    c = K.Cropping2D(((1, 0), (2, 1)), name="crop")(c)
    c = K.AveragePooling2D(2, name="avg")(c)
    u = K.UpSampling2D(2, interpolation="bilinear", name="up_bilinear")(c)
    v = K.UpSampling2D(2, name="up_nearest")(c)
    c = K.Concatenate(name="cat")([u, v])
    c = K.Conv2DTranspose(2, 2, strides=1, padding="valid", name="convT_valid")(c)
    c = K.Conv2D(5, 3, padding="valid", dilation_rate=2, name="dilated")(c)
    g = K.GlobalAveragePooling2D(name="gap")(c)
    out = K.Dense(3, name="dense")(g)
    two_d = keras.Model(inp, out, name="every_kind_2d")

    inp1 = keras.Input((17, 2), name="signal")
    y = K.ZeroPadding1D((2, 1), name="pad1")(inp1)
    y = K.Conv1D(3, 3, padding="causal", dilation_rate=2, name="causal")(y)
    y = K.Conv1D(3, 4, strides=2, padding="same", name="strided")(y)
    y = K.MaxPooling1D(2, padding="same", name="pool1")(y)
    y = K.UpSampling1D(3, name="up1")(y)
    y = K.Cropping1D((1, 2), name="crop1")(y)
    y = K.Conv1DTranspose(2, 3, strides=2, padding="valid", name="convT1")(y)
    y = K.GlobalMaxPooling1D(name="gmp")(y)
    one_d = keras.Model(inp1, y, name="every_kind_1d")

    inp3 = keras.Input((5, 6, 4, 1), name="volume")
    z = K.ZeroPadding3D(((0, 1), (1, 0), (1, 1)), name="pad3")(inp3)
    z = K.Conv3D(2, 3, strides=2, padding="same", name="conv3")(z)
    z = K.UpSampling3D(2, name="up3")(z)
    z = K.MaxPooling3D(2, name="pool3")(z)
    three_d = keras.Model(inp3, z, name="every_kind_3d")
    return two_d, one_d, three_d


@pytest.mark.parametrize("layer,entry", [
    ("dense", (1, 2)),
    ("dilated", (0, 0, 0, 4)),
    ("dilated", (1, 9, 1, 0)),
    ("cat", (0, 13, 9, 4)),
    ("add", (0, 7, 0, 3)),
    ("maxpool", (0, 0, 6, 1)),
])
def test_keras_every_kind_2d(keras_models, layer, entry):
    model = keras_models[0]
    report = check(model, layer, entry)
    assert report.ok, report.text()
    assert report.input_comparison.reached > 0
    if layer in ("add", "dilated", "cat"):
        assert report.comparisons[0].compared == "values"


@pytest.mark.parametrize("model_index,layer,entry", [
    (1, "gmp", (0, 1)), (1, "convT1", (0, 0, 0)), (1, "strided", (0, 8, 2)),
    (2, "pool3", (0, 2, 2, 1, 1)), (2, "conv3", (0, 0, 3, 1, 0)),
])
def test_keras_every_kind_1d_3d(keras_models, model_index, layer, entry):
    report = check(keras_models[model_index], layer, entry)
    assert report.ok, report.text()


def test_keras_values_are_compared_exactly_at_the_input(keras_models):
    model = keras_models[0]
    report = check(model, "add", (1, 3, 2, 0))
    assert report.ok, report.text()
    below_pool = [c for c in report.comparisons if c.relation == "contained"]
    assert below_pool and report.input_comparison.relation == "contained"
    report = check(model, "pw", (0, 4, 4, 1))  # reads through max pooling: containment
    assert report.input_comparison.relation == "contained"
    report = check(model, "sep", (0, 4, 4, 1))  # linear all the way down: values
    assert report.input_comparison.compared == "values" and report.ok, report.text()


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # inside Keras's save
def test_keras_saved_file_and_names(keras_models, tmp_path):
    model = keras_models[0]
    path = tmp_path / "model.keras"
    model.save(path)
    from_file = trace(str(path), "sep", (0, 3, 3, 1))
    direct = trace(model, "sep", (0, 3, 3, 1))
    assert from_file.paths == direct.paths and from_file.entry_count == direct.entry_count
    assert "sep/depthwise" in network(model).nodes


def test_keras_check_finds_a_wrong_map_and_names_the_layer(keras_models):
    model = keras_models[0]
    from symconv.network.keras_import import from_keras
    good = network(model)
    bad = from_keras(model)
    conv = bad.nodes["conv"]
    t = conv.tables[0]
    # the same layer with its padding shifted by one row
    conv.tables = (window_table(t.in_size, t.out_size, 3, 2, 1, 1), conv.tables[1])
    from symconv.network.gradcheck import check_model
    report = check_model(model, "sep", (0, 2, 3, 1), net=bad)
    assert not report.ok
    assert "first part at pad" in report.finding and "step back through conv" in report.finding
    assert check_model(model, "sep", (0, 2, 3, 1), net=good).ok


def test_keras_layers_it_cannot_map_are_traced_around(request):
    need(request, "keras", "keras")
    import keras
    from keras import layers as K

    from symconv.errors import SymconvError
    inp = keras.Input((8, 8, 2))
    x = K.Conv2D(4, 3, padding="same", name="conv")(inp)
    y = K.Reshape((16, 4, 4), name="reshape")(x)
    model = keras.Model(inp, K.Conv2D(1, 1, name="after")(y))
    assert trace(model, "conv", (0, 0, 0, 1)).entry_count == 2 * 2 * 2
    with pytest.raises(SymconvError, match="'reshape' \\(Reshape\\) cannot be traced through"):
        trace(model, "after", (0, 0, 0, 0))


def test_keras_resnet_style_block(request):
    need(request, "keras", "keras")
    import keras
    from keras import layers as K
    inp = keras.Input((16, 16, 3))
    x = K.Conv2D(8, 7, strides=2, padding="same", name="stem")(inp)
    x = K.MaxPooling2D(3, strides=2, padding="same", name="pool")(x)
    for i in range(2):
        y = K.Conv2D(4, 1, name=f"b{i}_1")(x)
        y = K.Conv2D(4, 3, padding="same", name=f"b{i}_2")(y)
        y = K.Conv2D(8, 1, name=f"b{i}_3")(y)
        x = K.Add(name=f"b{i}_out")([x, y])
    model = keras.Model(inp, x)
    report = check(model, "b1_out", (0, 1, 2, 5))
    assert report.ok, report.text()
    assert any("pool" in n for n in report.notes)
    t = trace(model, "b1_out", (0, 1, 2, 5))
    assert len(t.terms) <= 3


# ---- PyTorch -------------------------------------------------------------------------------

def torch_every_kind():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class EveryKind(nn.Module):
        def __init__(self):
            super().__init__()
            self.pad = nn.ZeroPad2d((1, 0, 2, 1))
            self.conv1 = nn.Conv2d(3, 4, 3, stride=2, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.relu = nn.ReLU(inplace=True)
            self.dw = nn.Conv2d(4, 8, 3, padding="same", groups=4)
            self.pw = nn.Conv2d(8, 4, 1)
            self.same4 = nn.Conv2d(4, 4, 4, padding="same")
            self.convT = nn.ConvTranspose2d(8, 3, 3, stride=2, padding=1, output_padding=1)
            self.maxpool = nn.MaxPool2d(3, 2, 1, ceil_mode=True)
            self.avg = nn.AvgPool2d(2)
            self.avg3 = nn.AvgPool2d(3, 1, 1, count_include_pad=False)
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
            self.up_nearest = nn.Upsample(scale_factor=2, mode="nearest")
            self.adaptive = nn.AdaptiveAvgPool2d((3, 2))
            self.fc = nn.Linear(18, 5)

        def forward(self, x):
            x = self.relu(self.bn(self.conv1(self.pad(x))))
            y = self.pw(self.dw(x)) + self.same4(x)
            y = torch.cat([y, F.max_pool2d(y, 3, 1, 1)], 1)
            y = self.convT(y)
            y = y[:, :, 1::2, ::1]
            y = self.maxpool(y)
            y = self.up(self.avg(y)) + self.up_nearest(self.avg(y))
            y = F.pad(y, (0, 1, 1, 0)) * 2
            y = self.avg3(y)
            y = self.adaptive(y)
            return self.fc(torch.flatten(y, 1))

    return EveryKind()


@pytest.fixture(scope="module")
def torch_model(request):
    need(request, "torch", "torch")
    import torch
    torch.manual_seed(0)
    return torch_every_kind()


@pytest.mark.parametrize("layer,entry", [
    ("fc", (0, 3)),
    ("adaptive", (0, 2, 1, 1)),
    ("convT", (0, 1, 0, 13)),
    ("add", (0, 3, 6, 0)),
    ("getitem", (0, 2, 7, 5)),
])
def test_torch_every_kind(torch_model, layer, entry):
    report = check(torch_model, layer, entry, input_shape="1x3x21x18")
    assert report.ok, report.text()
    assert report.input_comparison.reached > 0


def test_torch_1d_and_3d(request):
    need(request, "torch", "torch")
    import torch.nn as nn

    one = nn.Sequential(nn.Conv1d(2, 3, 3, stride=2, padding=2, dilation=2), nn.MaxPool1d(2, ceil_mode=True),
                        nn.ConvTranspose1d(3, 2, 4, stride=3, padding=1), nn.AvgPool1d(2, 2, 1),
                        nn.AdaptiveMaxPool1d(3))
    for layer, entry in (("4", (0, 1, 2)), ("2", (0, 0, 0)), ("3", (0, 1, 5))):
        report = check(one, layer, entry, input_shape="1x2x19")
        assert report.ok, report.text()
    three = nn.Sequential(nn.Conv3d(1, 2, 3, stride=(1, 2, 2), padding=1), nn.MaxPool3d(2),
                          nn.Upsample(scale_factor=2), nn.Conv3d(2, 2, (1, 3, 1), padding=(0, 1, 0)))
    report = check(three, "3", (0, 1, 3, 2, 1), input_shape="1x1x5x8x6")
    assert report.ok, report.text()


def test_torch_names_and_asymmetric_same(torch_model):
    net = network(torch_model, "1x3x21x18")
    assert "conv1" in net.nodes and "layer" not in net.nodes
    same4 = net.nodes["same4"]
    assert "pads 1:2,1:2" in same4.detail  # PyTorch puts the odd pixel after
    report = check(torch_model, "same4", (0, 1, 0, 8), input_shape="1x3x21x18")
    assert report.ok and report.input_comparison.compared == "values", report.text()


def test_torch_resnet_block_and_container_names(request):
    need(request, "torch", "torch")
    import torch.nn as nn

    from ..network_models import torch_resnet50
    model = torch_resnet50()
    model.layer2, model.layer3, model.layer4 = nn.Identity(), nn.Identity(), nn.Identity()
    model.fc = nn.Linear(256, 10)
    report = check(model, "layer1.1", (0, 7, 1, 2), input_shape="1x3x40x40")
    assert report.ok, report.text()
    net = network(model, "1x3x40x40")
    assert net.aliases["layer1.1"] == "layer1.1.relu@2"
    assert any("maxpool" in n for n in report.notes)
