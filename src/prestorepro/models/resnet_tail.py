"""The ResNet18 tail after the embedding cut point, with configurable stage widths (paper App. B.2).

After ``layer1`` (64 channels) the tail is layer2, layer3, layer4; after ``layer2`` (128 channels,
CIFAR10) it is layer3, layer4. Each stage is two torchvision ``BasicBlock``s, the first with stride 2
and a 1x1 downsample; then global average pooling and a linear head.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock

# channels of the ResNet18 feature map at each cut point
CUT_CHANNELS = {"layer1": 64, "layer2": 128}
# stages that follow each cut point
STAGES_AFTER = {"layer1": ("layer2", "layer3", "layer4"), "layer2": ("layer3", "layer4")}


def stage_widths_for_cut(widths: Sequence[int], cut: str) -> tuple[int, ...]:
    """Widths are given for (layer2, layer3, layer4); a layer2 cut keeps the last two."""
    if cut not in STAGES_AFTER:
        raise ValueError(f"unknown cut point {cut!r}; valid: {', '.join(STAGES_AFTER)}")
    widths = tuple(int(w) for w in widths)
    if len(widths) != 3 or min(widths) < 1:
        raise ValueError(f"widths must be three positive integers (layer2, layer3, layer4), got {widths}")
    return widths[-len(STAGES_AFTER[cut]):]


def _stage(in_ch: int, out_ch: int) -> nn.Sequential:
    down = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=2, bias=False), nn.BatchNorm2d(out_ch))
    return nn.Sequential(BasicBlock(in_ch, out_ch, stride=2, downsample=down), BasicBlock(out_ch, out_ch))


class ResNetTail(nn.Module):
    """One component: input is a (B, C_cut, H, W) feature map, output is (B, num_classes) logits."""

    def __init__(self, cut: str, widths: Sequence[int], num_classes: int):
        super().__init__()
        self.cut = cut
        self.widths = stage_widths_for_cut(widths, cut)
        self.num_classes = int(num_classes)
        chans = (CUT_CHANNELS[cut],) + self.widths
        self.stages = nn.Sequential(*[_stage(a, b) for a, b in zip(chans[:-1], chans[1:])])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(self.widths[-1], self.num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.stages(x)), 1))


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
