"""The layers of a fused K-component module (``models.fused``): a grouped convolution (a batched matmul on
small maps), a masked batch norm and a batched linear head, each holding the K components' parameters
stacked as ``(K, *single_shape)``."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


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
