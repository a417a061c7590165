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

from prestorepro.models.resnet_tail import CUT_CHANNELS, ResNetTail, stage_widths_for_cut


# Input maps of at most this many pixels (4x4) are convolved as a batched matmul (``FusedConv2d``), when
# the dense matrix that takes per component holds at most SMALL_MAP_MATRIX entries (4 MiB in float32).
SMALL_MAP = 16
SMALL_MAP_MATRIX = 1 << 20


def is_channels_last(x: torch.Tensor) -> bool:
    """A 4-d tensor laid out channels-last and not also NCHW-contiguous (maps of one pixel, or one channel,
    are both, and are handled as NCHW)."""
    return x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)


def _tap_index(h: int, w: int, kh: int, kw: int, stride: int, padding: int) -> tuple[torch.Tensor, int, int]:
    """For a convolution of an h x w map: (P, Q) index of the kernel tap joining output pixel p to input
    pixel q (``kh * kw`` where none does, a zero slot), and the output size."""
    oh, ow = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    idx = torch.full((oh * ow, h * w), kh * kw, dtype=torch.long)
    for py in range(oh):
        for px in range(ow):
            for qy in range(h):
                for qx in range(w):
                    ty, tx = qy - py * stride + padding, qx - px * stride + padding
                    if 0 <= ty < kh and 0 <= tx < kw:
                        idx[py * ow + px, qy * w + qx] = ty * kw + tx
    return idx, oh, ow


class FusedConv2d(nn.Module):
    """K convolutions with weights (K, out, in, kh, kw) as one grouped convolution over (B, K*in, H, W).

    On maps of at most ``SMALL_MAP`` pixels (every stage of a ResNet tail after its input block: 4x4, 2x2, 1x1) the
    convolution is the linear map it is there, out[p] = sum_q W[tap(p, q)] x[q], run as one batched
    matmul over the K components. Written by hand because the library's grouped convolution kernels are
    slow there: on the CPU oneDNN took 6-9 ms (forward and backward, B = 256) for a 3x3
    convolution of 16 channels per component on 1x1 maps, 0.5 MFLOP, which the matmul does in 0.5 ms
    (benchmarks/RESULTS.md, target 1). The same sums in another order: equal to rounding.
    """

    def __init__(self, k: int, in_ch: int, out_ch: int, kernel: int, stride: int = 1, padding: int = 0):
        super().__init__()
        self.k, self.in_ch, self.out_ch, self.stride, self.padding = k, in_ch, out_ch, stride, padding
        self.weight = nn.Parameter(torch.empty(k, out_ch, in_ch, kernel, kernel))
        nn.init.kaiming_normal_(self.weight.view(k * out_ch, in_ch, kernel, kernel), mode="fan_out", nonlinearity="relu")
        self._taps: dict[tuple, tuple[torch.Tensor, int, int]] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, K*in, H, W)
        q = x.shape[-2] * x.shape[-1]
        if q <= SMALL_MAP and self.in_ch * self.out_ch * q * q <= SMALL_MAP_MATRIX:  # P <= Q: output <= input
            return self._small_map(x)
        w = self.weight.reshape(self.k * self.out_ch, self.in_ch, *self.weight.shape[-2:])
        return F.conv2d(x, w, stride=self.stride, padding=self.padding, groups=self.k)

    def _small_map(self, x: torch.Tensor) -> torch.Tensor:
        b, (h, w) = x.shape[0], x.shape[-2:]
        k, co, ci = self.k, self.out_ch, self.in_ch
        kh, kw = self.weight.shape[-2:]
        key = (h, w, x.device)
        if key not in self._taps:  # cached per device: a CUDA graph must not copy it in at capture time
            idx, oh, ow = _tap_index(h, w, kh, kw, self.stride, self.padding)
            self._taps[key] = (idx.to(x.device), oh, ow)
        idx, oh, ow = self._taps[key]
        taps = self.weight.reshape(k, co, ci, kh * kw)
        taps = torch.cat([taps, taps.new_zeros(k, co, ci, 1)], dim=3)
        big = taps[..., idx]  # (K, out, in, P, Q)
        p, q = idx.shape
        if is_channels_last(x):
            # channels-last in, channels-last out (the CPU layout after the input block, where batch norm
            # is several times faster than on NCHW maps of 2x2): rows (q, in), columns (p, out)
            wm = big.permute(0, 4, 2, 3, 1).reshape(k, q * ci, p * co)
            xk = x.permute(0, 2, 3, 1).reshape(b, q, k, ci).permute(2, 0, 1, 3).reshape(k, b, q * ci)
            out = torch.bmm(xk, wm).view(k, b, oh, ow, co).permute(1, 2, 3, 0, 4)  # (B, oh, ow, K, out)
            return out.reshape(b, oh, ow, k * co).permute(0, 3, 1, 2)
        wm = big.permute(0, 2, 4, 1, 3).reshape(k, ci * q, co * p)  # rows (in, q), columns (out, p)
        xk = x.reshape(b, k, ci * q).transpose(0, 1)  # (K, B, in * Q)
        return torch.bmm(xk, wm).transpose(0, 1).reshape(b, k * co, oh, ow)


class FusedBatchNorm2d(nn.Module):
    """Batch norm of K components over the channel axis (B, K*C, H, W), with an optional row mask.

    Without a mask every row belongs to every component's batch, so per-component batch norm is plain
    batch norm over the K*C channels (``F.batch_norm``, one kernel). With a mask (B, K) the statistics
    of channel block k use only the rows where mask[:, k] is set.
    """

    def __init__(self, k: int, ch: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.k, self.ch, self.eps, self.momentum = k, ch, eps, momentum
        self.weight = nn.Parameter(torch.ones(k, ch))
        self.bias = nn.Parameter(torch.zeros(k, ch))
        self.register_buffer("running_mean", torch.zeros(k, ch))
        self.register_buffer("running_var", torch.ones(k, ch))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None or not self.training:
            # the (K, C) buffers are contiguous, so their flat views are updated in place
            return F.batch_norm(x, self.running_mean.view(-1), self.running_var.view(-1), self.weight.view(-1),
                                self.bias.view(-1), self.training, self.momentum, self.eps)
        _, _, h, w = x.shape
        # mask of every (row, channel): channel block k follows component k's rows
        mc = mask.to(x.dtype).repeat_interleave(self.ch, dim=1)  # (B, K*C)
        m4 = mc[:, :, None, None]
        count = mc.sum(0) * (h * w)  # (K*C,)
        denom = count.clamp(min=1.0)
        mean = (x * m4).sum(dim=(0, 2, 3)) / denom
        centred = x - mean[None, :, None, None]
        var = (centred.square() * m4).sum(dim=(0, 2, 3)) / denom
        rm, rv = self.running_mean.view(-1), self.running_var.view(-1)
        with torch.no_grad():
            active = count > 1
            unbiased = var * (count / (count - 1).clamp(min=1.0))
            new_mean = (1 - self.momentum) * rm + self.momentum * mean
            new_var = (1 - self.momentum) * rv + self.momentum * unbiased
            rm.copy_(torch.where(active, new_mean, rm))
            rv.copy_(torch.where(active, new_var, rv))
        # a component with no rows in this batch is normalised with its running statistics,
        # so its (ignored) activations stay finite instead of being blown up by var = 0
        empty = count == 0
        mean = torch.where(empty, rm, mean)
        centred = x - mean[None, :, None, None]
        inv = torch.rsqrt(torch.where(empty, rv, var) + self.eps)
        scale = inv * self.weight.view(-1)
        return centred * scale[None, :, None, None] + self.bias.view(-1)[None, :, None, None]


class FusedLinear(nn.Module):
    def __init__(self, k: int, in_f: int, out_f: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(k, out_f, in_f))
        self.bias = nn.Parameter(torch.empty(k, out_f))
        bound = 1.0 / in_f**0.5
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, K, in) -> (B, K, out)
        return torch.einsum("bki,koi->bko", x, self.weight) + self.bias


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
