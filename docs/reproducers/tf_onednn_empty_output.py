"""TensorFlow (seen with 2.21.0, CPU, oneDNN on): tf.nn.conv2d with padding
VALID and a kernel larger than the input returns a tensor shaped like the input (uninitialised
memory) instead of an empty output or an error.  conv1d, conv3d and depthwise_conv2d do the same.

Input 1x2x2x2 (NHWC), kernel 3x3x2x4 (HWIO), stride 1, VALID: a 3x3 window does not fit in a 2x2
image, so there is no output position: out = (2 - 3) // 1 + 1 = 0 per axis and y must have shape
(1, 0, 0, 4).  TensorFlow returns shape (1, 2, 2, 2), whose values are whatever the memory held.
With TF_ENABLE_ONEDNN_OPTS=0 the shape is right.  oneDNN is TensorFlow's default only on CPUs
with AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX; this script turns it on whatever the CPU.

Run: python tf_onednn_empty_output.py  (needs tensorflow or tensorflow-cpu)
"""

import os

os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"   # on whatever the CPU's default; set before importing it
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

x = tf.constant(np.arange(1, 9, dtype=np.float32).reshape(1, 2, 2, 2))
k = tf.ones((3, 3, 2, 4))
y = tf.nn.conv2d(x, k, strides=1, padding="VALID")
print("output shape:", tuple(y.shape), "expected (1, 0, 0, 4)")

assert tuple(y.shape) == (1, 0, 0, 4), \
    f"TensorFlow {tf.__version__} (oneDNN on): conv2d with no output position returns shape {tuple(y.shape)}"
print("TensorFlow", tf.__version__, "agrees")
