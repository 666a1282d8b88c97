"""Image augmentation for the small image datasets (before latency encoding).

MNIST-5k has 4000 training images: a 784-128-10 network overfits them (about 93.5 %
test for a non-spiking ReLU network, see BENCHMARKS.md "Accuracy"). Random small
affine distortions of each image (shift, rotation, scale) are the standard remedy; the
copies are drawn once, reproducibly, so a dataset stays a fixed list of examples that
every compiler, the window and the exports can use unchanged.
"""

from __future__ import annotations

import numpy as np

__all__ = ["affine_copies"]


def affine_copies(images: np.ndarray, copies: int, rng: np.random.Generator,
                  shift: float = 2.0, rotate: float = 10.0, scale: float = 0.1) -> np.ndarray:
    """``copies`` randomly distorted versions of each image, as uint8 (copies*N, h, w).

    Each copy is the image rotated by up to ``rotate`` degrees, scaled by a factor in
    ``1 +- scale`` about its centre and shifted by up to ``shift`` pixels in each
    direction (uniform draws, bilinear interpolation, zero outside). Copy ``c`` of
    image ``i`` is row ``c*N + i``.
    """
    from scipy import ndimage

    imgs = np.asarray(images)
    if imgs.ndim != 3:
        raise ValueError(f"images must be (N, height, width), got shape {imgs.shape}")
    n, h, w = imgs.shape
    out = np.empty((copies * n, h, w), np.uint8)
    centre = np.array([(h - 1) / 2.0, (w - 1) / 2.0])
    src = imgs.astype(np.float32)
    for c in range(copies):
        for i in range(n):
            a = np.deg2rad(rng.uniform(-rotate, rotate))
            s = rng.uniform(1.0 - scale, 1.0 + scale)
            m = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) / s
            offset = centre - m @ centre + rng.uniform(-shift, shift, 2)
            warped = ndimage.affine_transform(src[i], m, offset, order=1, cval=0.0)
            out[c * n + i] = np.clip(np.rint(warped), 0, 255).astype(np.uint8)
    return out
