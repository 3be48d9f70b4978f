"""ddpm_torch.py: the DDPM UNet of cugen (include/cugen/ddpm.h) in PyTorch, with
the same state_dict names, for the reference files (make_ddpm_ref.py) and the
side-by-side benchmark (bench_torch_ddpm.py). A checkpoint's weights load with

    net.load_state_dict({k: v for k, v in safetensors.torch.load_file(path).items()
                         if not k.startswith(("optim.", "train.", "ema."))})

(or the "ema." tensors with the prefix dropped, for the EMA weights).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

GN_EPS = 1e-6


def groups_for(c, most=32):
    """min(most, c), lowered until it divides c (cugen's rule)."""
    g = min(most, c)
    while c % g:
        g -= 1
    return g


def norm(c, most):
    return nn.GroupNorm(groups_for(c, most), c, eps=GN_EPS)


def timestep_embedding(t, dim, max_period=10000.0):
    """[cos(t f_j), sin(t f_j)], f_j = max_period^(-j / h), h = dim / 2 (cugen's op)."""
    h = dim // 2
    f = torch.exp(-math.log(max_period) * torch.arange(h, dtype=torch.float64) / h).to(t.dtype)
    a = t[:, None] * f[None, :]
    return torch.cat([torch.cos(a), torch.sin(a)], dim=1)


class ResnetBlock(nn.Module):
    def __init__(self, cin, cout, tdim, dropout, most):
        super().__init__()
        self.norm1 = norm(cin, most)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.temb_proj = nn.Linear(tdim, cout)
        self.norm2 = norm(cout, most)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        if cin != cout:
            self.nin_shortcut = nn.Conv2d(cin, cout, 1)
        self.cin, self.cout = cin, cout

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb_proj(temb)[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        s = self.nin_shortcut(x) if self.cin != self.cout else x
        return s + h


class AttnBlock(nn.Module):
    def __init__(self, c, most):
        super().__init__()
        self.norm = norm(c, most)
        self.q = nn.Conv2d(c, c, 1)
        self.k = nn.Conv2d(c, c, 1)
        self.v = nn.Conv2d(c, c, 1)
        self.proj_out = nn.Conv2d(c, c, 1)

    def forward(self, x):
        N, C, H, W = x.shape
        h = self.norm(x)
        q = self.q(h).reshape(N, C, H * W)
        k = self.k(h).reshape(N, C, H * W)
        v = self.v(h).reshape(N, C, H * W)
        w = torch.softmax(torch.bmm(q.transpose(1, 2), k) / math.sqrt(C), dim=2)
        o = torch.bmm(v, w.transpose(1, 2)).reshape(N, C, H, W)
        return x + self.proj_out(o)


class UNet(nn.Module):
    def __init__(self, in_ch=1, image_size=32, ch=64, ch_mult=(1, 2, 2, 2), num_res_blocks=2,
                 attn=(16,), dropout=0.1, groups=32):
        super().__init__()
        self.ch, self.nlevels, self.nrb = ch, len(ch_mult), num_res_blocks
        tdim = 4 * ch
        self.temb = nn.Module()
        self.temb.dense = nn.ModuleList([nn.Linear(ch, tdim), nn.Linear(tdim, tdim)])
        self.conv_in = nn.Conv2d(in_ch, ch, 3, 1, 1)
        skips, cur = [ch], ch
        self.down = nn.ModuleList()
        for i, m in enumerate(ch_mult):
            lv, res, out = nn.Module(), image_size >> i, ch * m
            lv.block, lv.attn = nn.ModuleList(), nn.ModuleList()
            for _ in range(num_res_blocks):
                lv.block.append(ResnetBlock(cur, out, tdim, dropout, groups))
                cur = out
                if res in attn:
                    lv.attn.append(AttnBlock(cur, groups))
                skips.append(cur)
            if i < len(ch_mult) - 1:
                lv.downsample = nn.Module()
                lv.downsample.conv = nn.Conv2d(cur, cur, 3, 2, 1)
                skips.append(cur)
            self.down.append(lv)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(cur, cur, tdim, dropout, groups)
        self.mid.attn_1 = AttnBlock(cur, groups)
        self.mid.block_2 = ResnetBlock(cur, cur, tdim, dropout, groups)
        ups = []
        for i in reversed(range(len(ch_mult))):
            lv, res, out = nn.Module(), image_size >> i, ch * ch_mult[i]
            lv.block, lv.attn = nn.ModuleList(), nn.ModuleList()
            for _ in range(num_res_blocks + 1):
                lv.block.append(ResnetBlock(cur + skips.pop(), out, tdim, dropout, groups))
                cur = out
                if res in attn:
                    lv.attn.append(AttnBlock(cur, groups))
            if i > 0:
                lv.upsample = nn.Module()
                lv.upsample.conv = nn.Conv2d(cur, cur, 3, 1, 1)
            ups.insert(0, lv)
        self.up = nn.ModuleList(ups)
        self.norm_out = norm(cur, groups)
        self.conv_out = nn.Conv2d(cur, in_ch, 3, 1, 1)

    def forward(self, x, t):
        temb = timestep_embedding(t, self.ch)
        temb = self.temb.dense[1](F.silu(self.temb.dense[0](temb)))
        temb = F.silu(temb)
        hs = [self.conv_in(x)]
        h = hs[-1]
        for i in range(self.nlevels):
            lv = self.down[i]
            for j in range(self.nrb):
                h = lv.block[j](h, temb)
                if len(lv.attn):
                    h = lv.attn[j](h)
                hs.append(h)
            if i < self.nlevels - 1:
                h = lv.downsample.conv(h)
                hs.append(h)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h, temb)), temb)
        for i in reversed(range(self.nlevels)):
            lv = self.up[i]
            for j in range(self.nrb + 1):
                h = lv.block[j](torch.cat([h, hs.pop()], dim=1), temb)
                if len(lv.attn):
                    h = lv.attn[j](h)
            if i > 0:
                h = lv.upsample.conv(F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


def linear_alpha_bar(T=1000):
    betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)
    return torch.cumprod(1 - betas, 0)
