"""tf2onnx (seen with 1.17.0, opset 17; run by ONNX Runtime 1.32.0): a grouped transposed
convolution, tf.nn.conv2d_transpose whose kernel has fewer input channels than the input (each
group of input channels scatters into its own output channels), is converted as an ungrouped
ConvTranspose: the model returns fewer output channels than TensorFlow, with no error.

One input pixel with two channels [1, 2], a 1x2 kernel of two groups (one input and one output
channel each), stride 2 along W: output column w, channel c is x[c] * k[0, w, 0, c], so with the
kernel's columns (10, 20) and (30, 40) y = [[10, 40], [30, 80]].  TensorFlow computes it (XLA
here); the converted model returns one channel, the sum over the groups.

Run: python tf2onnx_grouped_conv_transpose_drops_groups.py  (needs tensorflow, tf2onnx, onnxruntime)
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import onnxruntime as ort
import tensorflow as tf
import tf2onnx


def layer(x, k):
    return tf.nn.conv2d_transpose(x, k, output_shape=[1, 1, 2, 2], strides=[1, 2], padding="VALID")


x = np.array([1, 2], dtype=np.float32).reshape(1, 1, 1, 2)      # NHWC, two channels
k = np.array([[10, 20], [30, 40]], dtype=np.float32).reshape(1, 2, 1, 2)   # H, W, out per group, in: 2 groups
EXPECTED = [10.0, 40.0, 30.0, 80.0]                               # y[0, 0, w, c], w then c

compiled = tf.function(layer, jit_compile=True)(tf.constant(x), tf.constant(k)).numpy().ravel()
signature = [tf.TensorSpec(x.shape, tf.float32, name="x"), tf.TensorSpec(k.shape, tf.float32, name="k")]
model, _ = tf2onnx.convert.from_function(tf.function(layer), input_signature=signature, opset=17)
session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
converted = session.run(None, {"x": x, "k": k})[0]

print("TensorFlow (XLA):", compiled, "tf2onnx + ONNX Runtime:", converted.ravel(), "shape", converted.shape,
      "expected", EXPECTED, "shape (1, 1, 2, 2)")
assert compiled.tolist() == EXPECTED, f"TensorFlow {tf.__version__} gives {compiled}"
assert converted.shape == (1, 1, 2, 2) and converted.ravel().tolist() == EXPECTED, \
    f"tf2onnx {tf2onnx.__version__} drops the groups of conv2d_transpose: {converted.ravel()} of shape " \
    f"{converted.shape}, expected {EXPECTED} of shape (1, 1, 2, 2)"
print("tf2onnx", tf2onnx.__version__, "agrees")
