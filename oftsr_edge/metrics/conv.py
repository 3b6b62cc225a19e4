"""The one numpy convolution the metric networks (LPIPS's AlexNet, DISTS's VGG16) share: im2col + float32 matmul.

BLAS matmul on row chunks of the im2col matrix is the fastest portable way numpy has to run a conv net, and the
chunking bounds the extra memory to ~16 MB whatever the image size.
"""

from __future__ import annotations

import numpy as np

_CHUNK_ELEMENTS = 1 << 22


def conv2d(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """Cross-correlation of (H, W, C) with a (kh, kw, C, O) kernel (zero padding), + bias; float32 (h, w, O)."""
    kh, kw, cin, cout = kernel.shape
    xp = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
    out_h = (xp.shape[0] - kh) // stride + 1
    out_w = (xp.shape[1] - kw) // stride + 1
    weights = kernel.reshape(kh * kw * cin, cout)
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(0, 1))[::stride, ::stride]
    out = np.empty((out_h, out_w, cout), np.float32)
    rows = max(1, _CHUNK_ELEMENTS // max(1, out_w * kh * kw * cin))
    for r in range(0, out_h, rows):
        cols = windows[r : r + rows].transpose(0, 1, 3, 4, 2).reshape(-1, kh * kw * cin)
        np.matmul(cols, weights, out=out[r : r + rows].reshape(-1, cout))
    out += bias
    return out
