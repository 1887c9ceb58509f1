"""TensorFlow (seen with 2.21.0, CPU, oneDNN off): tf.nn.conv3d resolves padding SAME with
Eigen's unclamped rule, while its gradients clamp it, so forward and backward read different
pixels (the 2017 question about conv2d, in 3-D).

Input 3x3x3 holding 1..27, a 1x1x1 kernel [[10]], stride 3, SAME: out = ceil(3/3) = 1 per axis
and the padding total (1 - 1)*3 + 1 - 3 = -2 is negative, so there is nothing to pad and the one
window reads the corner x[0,0,0] = 1.  tf.nn.conv3d returns 10 * x[1,1,1] = 140 (its window
starts one pixel in: before = trunc(-2 / 2) = -1), while Conv3DBackpropFilterV2 with upstream
gradient 100 returns 100 * x[0,0,0] = 100: the gradient trains the kernel on a pixel the
forward never saw.  With oneDNN on (TensorFlow's default only on CPUs with AVX512_VNNI,
AVX512_BF16, AVX_VNNI or AMX; off on AVX2-only ones) the forward reads x[0,0,0] = 1.

Run: python tf_conv3d_legacy_same.py  (needs tensorflow or tensorflow-cpu)
"""

import os

os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"   # must be set before TensorFlow is imported
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

x = tf.constant(np.arange(1, 28, dtype=np.float32).reshape(1, 3, 3, 3, 1))   # NDHWC, x[0,d,h,w,0] = 9d+3h+w+1
k = tf.constant(np.full((1, 1, 1, 1, 1), 10, dtype=np.float32))              # DHWIO
strides = [1, 3, 3, 3, 1]

y = tf.nn.conv3d(x, k, strides=strides, padding="SAME")
g = tf.fill([1, 1, 1, 1, 1], 100.0)                                         # upstream gradient dL/dy
dk = tf.raw_ops.Conv3DBackpropFilterV2(input=x, filter_sizes=[1, 1, 1, 1, 1], out_backprop=g, strides=strides,
                                       padding="SAME")
print("forward y:", y.numpy().ravel(), "expected [10.] = 10 * x[0,0,0]")
print("filter gradient dk:", dk.numpy().ravel(), "expected [100.] = 100 * x[0,0,0]")

assert y.numpy().ravel().tolist() == [10.0], \
    f"TensorFlow {tf.__version__} (oneDNN off): conv3d SAME reads x[1,1,1] ({y.numpy().ravel()}), its gradient x[0,0,0]"
print("TensorFlow", tf.__version__, "agrees")
