"""The digits data set (bundled with scikit-learn, no download) and its fixed split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Pixels of load_digits are integers 0..16; dividing by 16 keeps every input exact in float32.
PIXEL_MAXIMUM = 16
TEST_FRACTION = 3  # one image in three is held out
CALIBRATION_IMAGES = 256
SPLIT_SEED = 0


@dataclass(frozen=True)
class Digits:
    """All 1,797 images (float32, ``(N, 64)`` in [0, 1]) and labels, with index sets into them."""

    images: np.ndarray
    labels: np.ndarray
    train: np.ndarray
    test: np.ndarray
    #: The first images of the training split, shown to the observers (never the test split).
    calibration: np.ndarray

    def as_grid(self, indices=None) -> np.ndarray:
        """The images as NCHW ``(N, 1, 8, 8)``, the convolution's layout."""
        images = self.images if indices is None else self.images[indices]
        return images.reshape(-1, 1, 8, 8)


def load() -> Digits:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.data.astype(np.float32) / np.float32(PIXEL_MAXIMUM)).astype(np.float32)
    labels = bunch.target.astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    test_count = len(labels) // TEST_FRACTION
    test, train = np.sort(order[:test_count]), order[test_count:]
    return Digits(images, labels, train, test, train[:CALIBRATION_IMAGES])
