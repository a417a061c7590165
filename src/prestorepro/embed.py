"""ResNet18 feature maps at the paper's cut point (paper §4.1, App. B.1; SPEC §2).

The trunk is torchvision's ResNet18 up to ``layer1`` (64 channels) or ``layer2`` (128 channels,
CIFAR10), in eval mode, on images normalised with the ImageNet statistics at their native resolution.
Images stream to the device one batch at a time; feature maps are stored as float16 (N, C, H, W).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from prestorepro.progress import progress

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
WEIGHTS = ("imagenet", "none")


class WeightsUnavailableError(RuntimeError):
    """ImageNet weights were asked for but cannot be loaded (never silently replaced)."""


def build_trunk(weights: str, cut: str, seed: int = 0) -> nn.Module:
    """ResNet18 stem + layers up to ``cut``. ``weights='none'`` is a seeded random initialisation
    (drawn under a forked RNG, so the caller's global RNG state is left untouched)."""
    from torchvision.models import ResNet18_Weights, resnet18

    if weights not in WEIGHTS:
        raise ValueError(f"embedding weights must be one of {', '.join(WEIGHTS)}, got {weights!r}")
    if cut not in ("layer1", "layer2"):
        raise ValueError(f"cut must be layer1 or layer2, got {cut!r}")
    if weights == "imagenet":
        try:
            # torch's cache (or a download) with the file's hash checked and weights_only=True:
            # a tampered cached file is refused instead of being unpickled
            state = torch.hub.load_state_dict_from_url(ResNet18_Weights.IMAGENET1K_V1.url, progress=False,
                                                       check_hash=True, weights_only=True)
            with torch.random.fork_rng(devices=[]):
                net = resnet18(weights=None)
            net.load_state_dict(state)
        except Exception as exc:  # network or cache problems: say what to do, never fall back
            url = ResNet18_Weights.IMAGENET1K_V1.url
            cache = torch.hub.get_dir()
            raise WeightsUnavailableError(
                f"could not load the ImageNet ResNet18 weights ({type(exc).__name__}: {exc}). "
                f"Download {url} into {cache}/checkpoints/ (torch's cache) and re-run, or set "
                f"embedding.weights: none to use a seeded random initialisation instead."
            ) from exc
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = resnet18(weights=None)
    layers = [net.conv1, net.bn1, net.relu, net.maxpool, net.layer1]
    if cut == "layer2":
        layers.append(net.layer2)
    return nn.Sequential(*layers).eval()


def feature_shape(image_hw: tuple[int, int], cut: str) -> tuple[int, int, int]:
    """(C, H, W) of the feature map: stride 4 after layer1, 8 after layer2 (conv and pool round up)."""
    h, w = image_hw
    for _ in range(2):  # conv1 (stride 2, pad 3) then maxpool (stride 2, pad 1)
        h, w = (h + 1) // 2, (w + 1) // 2
    if cut == "layer2":
        h, w = (h + 1) // 2, (w + 1) // 2
    return (64 if cut == "layer1" else 128, h, w)


@torch.no_grad()
def extract_features(images: np.ndarray, trunk: nn.Module, *, batch_size: int, device: torch.device,
                     desc: str = "embed", log: Callable[[str], None] | None = None) -> np.ndarray:
    """uint8 NHWC images -> float16 (N, C, H, W) feature maps, one batch on the device at a time.

    Progress: a bar on a terminal, else a few lines ``<desc>: 120/500 batches (24%), ...`` through
    ``log`` (or stderr, the job's log), at most one per 30 s and 20 in all (``prestorepro.progress``)."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected uint8 images of shape (N, H, W, 3), got {images.dtype} {images.shape}")
    trunk = trunk.to(device).eval()
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    c, h, w = feature_shape(images.shape[1:3], "layer2" if len(trunk) == 6 else "layer1")
    out = np.empty((len(images), c, h, w), dtype=np.float16)
    for s in progress(range(0, len(images), batch_size), desc=desc, unit="batches", log=log):
        batch = torch.from_numpy(images[s:s + batch_size]).to(device)
        batch = batch.permute(0, 3, 1, 2).float().div_(255.0).sub_(mean).div_(std)
        feats = trunk(batch)
        if not torch.isfinite(feats).all():
            raise FloatingPointError(f"non-finite embedding values in images {s}..{s + len(batch) - 1}")
        out[s:s + len(batch)] = feats.half().cpu().numpy()
    if log:
        log(f"{desc}: {len(images)} images -> features {out.shape} float16")
    return out
