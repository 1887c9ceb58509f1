"""TensorFlow (seen with 2.21.0, CPU, eager and XLA): tf.nn.depthwise_conv2d with strides 2,
dilations (2, 1) and explicit pads returns the wrong output shape.

Input x = [1, 2, 3] (height 3, width 1, one channel), kernel k = [1, 100] dilated by 2 along the
height (effective size 3), stride 2, one pixel of zero padding above and below: the padded
column is [0, 1, 2, 3, 0] (5 pixels), so there are (5 - 3) // 2 + 1 = 2 outputs:
  y[0] = k[0]*0    + k[1]*x[1] = 200
  y[1] = k[0]*x[1] + k[1]*0    = 2
TensorFlow returns only y[0]: shape (1, 1, 1, 1) instead of (1, 2, 1, 1).

Run: python tf_depthwise_wrong_output_shape.py  (needs tensorflow or tensorflow-cpu)
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

warnings.simplefilter("ignore")   # TensorFlow warns that strides and dilations are both above 1, then runs
x = tf.constant(np.array([1, 2, 3], dtype=np.float32).reshape(1, 3, 1, 1))      # NHWC
k = tf.constant(np.array([1, 100], dtype=np.float32).reshape(2, 1, 1, 1))       # H, W, in, multiplier
pads = [[0, 0], [1, 1], [0, 0], [0, 0]]
y = tf.nn.depthwise_conv2d(x, k, strides=[1, 2, 2, 1], padding=pads, dilations=[2, 1])
print("output:", y.numpy().ravel(), "shape", tuple(y.shape), "expected [200. 2.] shape (1, 2, 1, 1)")

assert tuple(y.shape) == (1, 2, 1, 1), \
    f"TensorFlow {tf.__version__}: depthwise_conv2d with strides 2, dilations (2, 1) and explicit pads returns " \
    f"shape {tuple(y.shape)}"
print("TensorFlow", tf.__version__, "agrees")
