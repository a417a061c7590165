"""K component models of one architecture as ONE module (SPEC §3-4).

Every parameter and buffer of the fused module has the name of the single-model parameter it
stacks and shape ``(K, *single_shape)``, so components move in and out with ``from_components`` /
``component``. Convolutions of the K components run as one grouped convolution and the linear heads
as one batched matmul, so a training step costs about one model's kernel launches, not K. The one
exception is the input convolution of the first block, where each component reads its own batch: it
runs as K ordinary convolutions (faster than one grouped convolution over K*64 channels on the CPU),
fused with the block's 1x1 downsample.

Batch normalisation takes a row mask ``(B, K)``: each component k sees its own batch in group k, and
rows that are padding (a component's last, smaller batch; a component that has finished its epoch)
are left out of the batch statistics and of the running-stat update. That is what makes fused
training equal to training the K models one after another (tests/test_fused.py).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from prestorepro.models.fused_layers import FusedBatchNorm2d, FusedConv2d, FusedLinear
from prestorepro.models.parameters import CUT_CHANNELS, stage_widths_for_cut
from prestorepro.models.resnet_tail import ResNetTail


class _FusedDownsample(nn.Module):
    # named "0" and "1" like torchvision's nn.Sequential downsample, so parameter names match
    def __init__(self, k: int, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.add_module("0", FusedConv2d(k, in_ch, out_ch, 1, stride=stride))
        self.add_module("1", FusedBatchNorm2d(k, out_ch))

    def forward(self, x, mask):
        return getattr(self, "1")(getattr(self, "0")(x), mask)


class FusedBasicBlock(nn.Module):
    def __init__(self, k: int, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.k, self.in_ch, self.out_ch, self.stride = k, in_ch, out_ch, stride
        self.conv1 = FusedConv2d(k, in_ch, out_ch, 3, stride=stride, padding=1)
        self.bn1 = FusedBatchNorm2d(k, out_ch)
        self.conv2 = FusedConv2d(k, out_ch, out_ch, 3, padding=1)
        self.bn2 = FusedBatchNorm2d(k, out_ch)
        self.downsample = _FusedDownsample(k, in_ch, out_ch, stride) if (stride != 1 or in_ch != out_ch) else None

    def _entry_weight(self) -> torch.Tensor:
        """conv1 and the 1x1 downsample as one 3x3 convolution, (K, 2*out, in, 3, 3).

        Both read the same input with the same stride, and a 1x1 convolution with padding 0 is the
        3x3 convolution with padding 1 whose only non-zero tap is the centre one, so one kernel reads
        the block's input once for both.
        """
        wd = getattr(self.downsample, "0").weight  # (K, out, in, 1, 1)
        return torch.cat([self.conv1.weight, F.pad(wd, (1, 1, 1, 1))], dim=1)

    def forward(self, x, mask):  # x: (B, K*in, H, W)
        out = F.relu(self.bn1(self.conv1(x), mask))
        out = self.bn2(self.conv2(out), mask)
        identity = x if self.downsample is None else self.downsample(x, mask)
        return F.relu(out + identity)

    def forward_input(self, x: torch.Tensor, mask) -> torch.Tensor:
        """The network's first block, on (B, K, in, H, W) (one input per component) or (B, in, H, W).

        The input convolution is the most expensive layer (most input channels, largest maps). A
        grouped convolution over K*in channels is slow on the CPU, so each component's input goes
        through an ordinary convolution of its own; a shared input needs one convolution for all K.
        ``x[:, j]`` is contiguous when the caller lays the batch out component-major (see
        ``training.fused.train_components``).
        """
        if self.downsample is None:
            raise ValueError("the first block of a ResNet tail has a stride-2 downsample")
        o, w = self.out_ch, self._entry_weight()
        if x.dim() == 4:
            y = F.conv2d(x, w.reshape(self.k * 2 * o, self.in_ch, 3, 3), stride=self.stride, padding=1)
            ys = y.split(2 * o, dim=1)
        else:
            ys = [F.conv2d(x[:, j], w[j], stride=self.stride, padding=1) for j in range(self.k)]
        c1 = torch.cat([y[:, :o] for y in ys], dim=1)
        ds = torch.cat([y[:, o:] for y in ys], dim=1)
        if x.device.type == "cpu":
            # oneDNN's grouped convolutions are several times faster on channels-last maps (the layout
            # then carries through every later layer of the block stack)
            c1, ds = c1.contiguous(memory_format=torch.channels_last), ds.contiguous(memory_format=torch.channels_last)
        out = F.relu(self.bn1(c1, mask))
        out = self.bn2(self.conv2(out), mask)
        return F.relu(out + getattr(self.downsample, "1")(ds, mask))


class FusedModule(nn.Module):
    """Common interface of fused component stacks.

    ``forward(x, mask=None)``: x is (B, K, *feature_shape) with one input per component, or
    (B, *feature_shape) shared by all; returns (B, K, num_outputs).
    """

    k: int
    feature_ndim: int

    def single(self) -> nn.Module:  # a fresh single component of the same architecture
        raise NotImplementedError

    def like(self, k: int) -> "FusedModule":
        """A fused stack of ``k`` components of this architecture (freshly initialised)."""
        raise NotImplementedError

    @torch.no_grad()
    def load_components(self, comps: Sequence[nn.Module]) -> "FusedModule":
        if len(comps) != self.k:
            raise ValueError(f"expected {self.k} components, got {len(comps)}")
        states = [c.state_dict() for c in comps]
        for name, t in list(self.named_parameters()) + list(self.named_buffers()):
            t.copy_(torch.stack([s[name].to(t.dtype) for s in states]))
        return self

    @torch.no_grad()
    def component(self, k: int) -> nn.Module:
        comp = self.single().to(next(self.parameters()).dtype)
        state = comp.state_dict()
        for name, t in list(self.named_parameters()) + list(self.named_buffers()):
            state[name] = t[k].detach().clone().cpu()
        comp.load_state_dict(state)
        return comp

    @torch.no_grad()
    def set_component(self, k: int, comp: nn.Module) -> None:
        src = comp.state_dict()
        for name, t in list(self.named_parameters()) + list(self.named_buffers()):
            t[k].copy_(src[name].to(t.device, t.dtype))

    def sq_norm(self) -> torch.Tensor:
        """||theta_k||^2 per component, shape (K,): the L2 term of the PRESTO objective."""
        # one reduction over all parameters side by side, not one per parameter tensor
        return torch.cat([p.reshape(self.k, -1) for p in self.parameters()], dim=1).square().sum(1)

    def num_parameters_per_component(self) -> int:
        return sum(p[0].numel() for p in self.parameters())

    def _split_input(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == self.feature_ndim + 1:  # shared input
            x = x.unsqueeze(1).expand(x.shape[0], self.k, *x.shape[1:])
        if x.dim() != self.feature_ndim + 2 or x.shape[1] != self.k:
            raise ValueError(f"expected input (B, {self.k}, ...) or (B, ...), got {tuple(x.shape)}")
        return x


class FusedResNetTail(FusedModule):
    feature_ndim = 3

    def __init__(self, k: int, cut: str, widths: Sequence[int], num_classes: int):
        super().__init__()
        self.k, self.cut, self.num_classes = int(k), cut, int(num_classes)
        self.widths_arg = tuple(widths)
        self.widths = stage_widths_for_cut(widths, cut)
        chans = (CUT_CHANNELS[cut],) + self.widths
        self.stages = nn.ModuleList(
            nn.ModuleList([FusedBasicBlock(k, a, b, 2), FusedBasicBlock(k, b, b, 1)])
            for a, b in zip(chans[:-1], chans[1:])
        )
        self.fc = FusedLinear(k, self.widths[-1], self.num_classes)
        # same initial distribution as the single model: copy from K freshly initialised components
        self.load_components([self.single() for _ in range(k)])

    def single(self) -> ResNetTail:
        return ResNetTail(self.cut, self.widths_arg, self.num_classes)

    def like(self, k: int) -> "FusedResNetTail":
        return FusedResNetTail(k, self.cut, self.widths_arg, self.num_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != self.feature_ndim + 1:  # per-component inputs; a shared input stays unexpanded
            x = self._split_input(x)
        elif x.shape[1] != CUT_CHANNELS[self.cut]:
            raise ValueError(f"expected input (B, {self.k}, {CUT_CHANNELS[self.cut]}, H, W) or "
                             f"(B, {CUT_CHANNELS[self.cut]}, H, W), got {tuple(x.shape)}")
        b = x.shape[0]
        h = x
        for i, stage in enumerate(self.stages):
            for j, block in enumerate(stage):
                h = block.forward_input(h, mask) if i == 0 and j == 0 else block(h, mask)
        pooled = h.mean(dim=(2, 3)).view(b, self.k, self.widths[-1])
        return self.fc(pooled)


class LinearSVM(nn.Module):
    """Linear SVM h(x) = w^T x + b (paper App. C); output (B, 1) is the signed score."""

    def __init__(self, in_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class FusedLinearSVM(FusedModule):
    feature_ndim = 1

    def __init__(self, k: int, in_features: int):
        super().__init__()
        self.k, self.in_features = int(k), int(in_features)
        self.linear = FusedLinear(k, in_features, 1)
        self.load_components([self.single() for _ in range(k)])

    def single(self) -> LinearSVM:
        return LinearSVM(self.in_features)

    def like(self, k: int) -> "FusedLinearSVM":
        return FusedLinearSVM(k, self.in_features)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.linear(self._split_input(x))
