"""TensorFlow (seen with 2.21.0, CPU, oneDNN on and off): DepthwiseConv2dNativeBackpropFilter and
DepthwiseConv2dNativeBackpropInput ignore `dilations` when the stride is above 1: they read the
kernel taps one pixel apart instead of `dilation` pixels apart, silently.  (tf.nn.depthwise_conv2d
documents strides above 1 with dilations above 1 as unsupported and warns; the backprop ops say
nothing.  At stride 1 they do not refuse either: they return wrong values there too.
tf.nn.depthwise_conv2d itself computes the forward right.)

Input x = [1, 2, 3] (height 3, width 1, one channel), a 2-tap kernel k = [1, 100] dilated by 2
along the height (taps 2 pixels apart: an effective size of 3), stride 2, VALID: one output,
y = k[0]*x[0] + k[1]*x[2] = 1 + 300 = 301.  With upstream gradient g = [10]:
  dk[0] = g*x[0] = 10,  dk[1] = g*x[2] = 30;
  dx[0] = g*k[0] = 10,  dx[1] = 0 (no tap reads it),  dx[2] = g*k[1] = 1000.
TensorFlow returns dk = [10, 20] (x[1] in place of x[2]) and dx = [10, 1000, 0].

Run: python tf_depthwise_backprop_ignores_dilation.py  (needs tensorflow or tensorflow-cpu)
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

warnings.simplefilter("ignore")   # TensorFlow warns that strides and dilations are both above 1, then runs
x = tf.constant(np.array([1, 2, 3], dtype=np.float32).reshape(1, 3, 1, 1))      # NHWC
k = tf.constant(np.array([1, 100], dtype=np.float32).reshape(2, 1, 1, 1))       # H, W, in, multiplier
g = tf.constant(np.array([10], dtype=np.float32).reshape(1, 1, 1, 1))
common = dict(strides=[1, 2, 2, 1], padding="VALID", dilations=[1, 2, 1, 1])

y = tf.nn.depthwise_conv2d(x, k, strides=[1, 2, 2, 1], padding="VALID", dilations=[2, 1])
dk = tf.raw_ops.DepthwiseConv2dNativeBackpropFilter(input=x, filter_sizes=[2, 1, 1, 1], out_backprop=g, **common)
dx = tf.raw_ops.DepthwiseConv2dNativeBackpropInput(input_sizes=[1, 3, 1, 1], filter=k, out_backprop=g, **common)
print("forward y:", y.numpy().ravel(), "expected [301.]")
print("filter gradient dk:", dk.numpy().ravel(), "expected [10. 30.]")
print("input gradient dx:", dx.numpy().ravel(), "expected [10. 0. 1000.]")

assert dk.numpy().ravel().tolist() == [10, 30] and dx.numpy().ravel().tolist() == [10, 0, 1000], \
    f"TensorFlow {tf.__version__}: the depthwise backprop ops ignore dilations: dk {dk.numpy().ravel()}, " \
    f"dx {dx.numpy().ravel()}"
print("TensorFlow", tf.__version__, "agrees")
