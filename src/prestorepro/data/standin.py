"""Stand-in datasets: seeded, class-structured uint8 images with a paper dataset's image shape, class
count and split sizes, generated in seconds without a download.

They exist so that the paper's whole workflow can be planned, run and timed at the paper's sizes before
(or without) the real data: ``config/rehearsal.yaml`` runs ``config/paper.yaml``'s DAG on them, and the
cost forecast (``prestorepro.forecast``) times its jobs on them. Their accuracies mean nothing about the
paper's datasets and are never compared with the paper's numbers (the report keys paper values by
``source``, which is ``standin`` here).

The split sizes are those of the prepared real datasets (SPEC §1; paper Table 4): CIFAR10 and SVHN with
the seeded 10% validation hold-out already carved out of the official training set, PathMNIST and
DermaMNIST with their official splits. Classes are balanced (the real ones are not: DermaMNIST's largest
class is 67% of it); class balance does not change what a job costs.

Each class is a mixture of ``SUBCLASSES`` smooth prototypes (seeded low-resolution noise, upsampled), so a
class has internal cluster structure for the partitioning methods to find; an image is its prototype
with a random contrast, brightness, shift of up to 2 pixels and pixel noise, so the classes overlap: a
logistic regression on the pixels of 10% of the CIFAR10 stand-in scores 98.7% on its test split, the
nearest class mean about 30% (chance: 10%).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prestorepro.sizes import PREPARED_SIZES

SUBCLASSES = 3
_CHUNK = 8192  # images generated at a time: the float32 working copy stays under 100 MB
_CLASS_AMPLITUDE = 6.0  # class pattern amplitude, against pixel noise of std _NOISE
_NOISE = 40.0


@dataclass(frozen=True)
class StandinShape:
    """What a stand-in copies from the paper dataset it stands in for."""

    image: tuple[int, int, int]  # (H, W, C)
    num_classes: int
    sizes: tuple[int, int, int]  # prepared train / val / test


STANDINS: dict[str, StandinShape] = {
    "cifar10": StandinShape((32, 32, 3), 10, PREPARED_SIZES["cifar10"]),
    "svhn": StandinShape((32, 32, 3), 10, PREPARED_SIZES["svhn"]),
    "pathmnist": StandinShape((28, 28, 3), 9, PREPARED_SIZES["pathmnist"]),
    "dermamnist": StandinShape((28, 28, 3), 7, PREPARED_SIZES["dermamnist"]),
}


def standin_sizes(like: str, scale: float = 1.0) -> tuple[int, int, int]:
    """Split sizes of the stand-in for ``like`` at ``scale`` (each at least 2 images per class)."""
    shape = STANDINS[like]
    floor = 2 * shape.num_classes
    return tuple(max(floor, int(round(n * scale))) for n in shape.sizes)


def _prototypes(rng: np.random.Generator, num_classes: int, image: tuple[int, int, int]) -> np.ndarray:
    """(C, SUBCLASSES, H, W, 3) float32 prototypes around 127.5: a pattern shared by every class, one per
    class and one per subclass (each 4x4 noise upsampled to H x W), of decreasing amplitude."""
    import torch
    import torch.nn.functional as F

    h, w, c = image
    def pattern(n: int, amplitude: float) -> np.ndarray:
        coarse = rng.uniform(-amplitude, amplitude, size=(n, c, 4, 4)).astype(np.float32)
        return F.interpolate(torch.from_numpy(coarse), size=(h, w), mode="bilinear",
                             align_corners=False).numpy().transpose(0, 2, 3, 1)

    shared = pattern(1, 60.0)[None]                                   # (1, 1, H, W, C)
    per_class = pattern(num_classes, _CLASS_AMPLITUDE)[:, None]       # (C, 1, H, W, C)
    per_sub = pattern(num_classes * SUBCLASSES, 25.0).reshape(num_classes, SUBCLASSES, h, w, c)
    return 127.5 + shared + per_class + per_sub


def _labels(rng: np.random.Generator, n: int, num_classes: int) -> np.ndarray:
    y = np.arange(n, dtype=np.int64) % num_classes  # balanced to within one image
    rng.shuffle(y)
    return y


def _images(rng: np.random.Generator, protos: np.ndarray, y: np.ndarray) -> np.ndarray:
    n = len(y)
    h, w, c = protos.shape[2:]
    out = np.empty((n, h, w, c), dtype=np.uint8)
    for lo in range(0, n, _CHUNK):
        yy = y[lo:lo + _CHUNK]
        m = len(yy)
        sub = rng.integers(0, SUBCLASSES, size=m)
        x = protos[yy, sub]  # (m, H, W, C)
        shift = rng.integers(0, 25, size=m)  # (dy, dx) in {-2..2}^2 per image, rolled 25 groups at a time
        for s in np.unique(shift):
            rows = shift == s
            x[rows] = np.roll(x[rows], (int(s // 5) - 2, int(s % 5) - 2), axis=(1, 2))
        contrast = rng.uniform(0.6, 1.2, size=(m, 1, 1, 1)).astype(np.float32)
        brightness = rng.uniform(-30.0, 30.0, size=(m, 1, 1, 1)).astype(np.float32)
        x = (x - 127.5) * contrast + 127.5 + brightness
        x += _NOISE * rng.standard_normal(size=x.shape, dtype=np.float32)
        out[lo:lo + m] = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return out


def make_standin(like: str, seed: int, scale: float = 1.0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train"|"val"|"test": (uint8 NHWC images, int64 labels)}`` of the stand-in for ``like``.

    The same (like, seed, scale) gives the same arrays; the prototypes depend on (like, seed) only, so a
    scaled-down stand-in draws from the same classes as the full one."""
    shape = STANDINS[like]
    proto_seed, *split_seeds = np.random.SeedSequence([int(seed), sorted(STANDINS).index(like)]).spawn(4)
    protos = _prototypes(np.random.default_rng(proto_seed), shape.num_classes, shape.image)
    out = {}
    for split, n, ss in zip(("train", "val", "test"), standin_sizes(like, scale), split_seeds):
        rng = np.random.default_rng(ss)
        y = _labels(rng, n, shape.num_classes)
        out[split] = (_images(rng, protos, y), y)
    return out
