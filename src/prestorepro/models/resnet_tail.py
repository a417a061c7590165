"""The ResNet18 tail after the embedding cut point, with configurable stage widths (paper App. B.2).

After ``layer1`` (64 channels) the tail is layer2, layer3, layer4; after ``layer2`` (128 channels,
CIFAR10) it is layer3, layer4. Each stage is two ResNet ``BasicBlock``s, the first with stride 2
and a 1x1 downsample; then global average pooling and a linear head.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from prestorepro.models.parameters import CUT_CHANNELS, stage_widths_for_cut


class BasicBlock(nn.Module):
    """torchvision's ``BasicBlock`` (He et al. 2016): the same layers, names, initialisation order and
    forward pass (tests/test_models.py checks them against torchvision's). Written out because importing
    torchvision costs seconds (its package initialiser loads its detection ops and torch._dynamo), which
    every training job would pay for one class; only the embedding stage needs torchvision."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


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
