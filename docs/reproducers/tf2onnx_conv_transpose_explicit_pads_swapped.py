"""tf2onnx (seen with 1.17.0, opset 17; run by ONNX Runtime 1.32.0): tf.nn.conv2d_transpose with
explicit pads is converted with each axis's pads the other way round (before <-> after), so the
ONNX model crops the transposed convolution's full output at the other end.

A transposed convolution scatters each input pixel over a window of the full output; explicit
pads [before, after] then crop `before` rows at the start and `after` at the end.  Here one input
pixel (1) and a 2x1 kernel [10, 20] give the full output [10, 20]; pads 1:0 on H crop the first
row, so TensorFlow returns [20].  The converted model returns [10]: it crops the last row, as
pads 0:1 would.  The same happens for a same_lower SAME written as explicit pads.

Run: python tf2onnx_conv_transpose_explicit_pads_swapped.py  (needs tensorflow, tf2onnx, onnxruntime)
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import onnxruntime as ort
import tensorflow as tf
import tf2onnx

PADDING = [[0, 0], [1, 0], [0, 0], [0, 0]]         # NHWC: pads 1:0 on H, 0:0 on W


def layer(x, k):
    return tf.nn.conv2d_transpose(x, k, output_shape=[1, 1, 1, 1], strides=1, padding=PADDING)


x = np.ones((1, 1, 1, 1), dtype=np.float32)                      # one input pixel, 1
k = np.array([10, 20], dtype=np.float32).reshape(2, 1, 1, 1)     # H=2, W=1, out 1, in 1

eager = layer(tf.constant(x), tf.constant(k)).numpy().ravel()
signature = [tf.TensorSpec(x.shape, tf.float32, name="x"), tf.TensorSpec(k.shape, tf.float32, name="k")]
model, _ = tf2onnx.convert.from_function(tf.function(layer), input_signature=signature, opset=17)
session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
converted = session.run(None, {"x": x, "k": k})[0].ravel()

print("TensorFlow:", eager, "tf2onnx + ONNX Runtime:", converted, "expected [20.] (the full output [10, 20], "
      "its first row cropped)")
assert eager.tolist() == [20.0], f"TensorFlow {tf.__version__} gives {eager}"
assert converted.tolist() == [20.0], \
    f"tf2onnx {tf2onnx.__version__} converts explicit pads 1:0 of conv2d_transpose as 0:1: {converted}, expected [20.]"
print("tf2onnx", tf2onnx.__version__, "agrees")
