"""PyTorch reference definitions of the medseg model zoo.

Each network is built from the same JSON config that the Rust library serialises
(`medseg info --model NAME --json` prints it under "config"), with the same module
names, so a PyTorch `state_dict` (minus `num_batches_tracked`) loads into the Rust model
with burn-store's PyTorch adapter (BatchNorm weight/bias -> gamma/beta) and no remapping.

Semantics follow xuebinqin/U-2-Net `model/u2net.py` (U2-Net family) and the common
NestedUNet/UNet definitions (U-Net/UNet++), generalised exactly as in
`crates/medseg/src/{nn,models}`. This file is also the speed reference of the benchmarks.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


def resize_like(x, size, align_corners):
    if tuple(x.shape[2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=align_corners)


class ConvBn(nn.Module):
    def __init__(self, cin, cout, kernel=(3, 3), dilation=1, bias=True, relu=True):
        super().__init__()
        pad = (dilation * (kernel[0] - 1) // 2, dilation * (kernel[1] - 1) // 2)
        self.conv = nn.Conv2d(cin, cout, kernel, padding=pad, dilation=dilation, bias=bias)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = relu

    def forward(self, x):
        x = self.bn(self.conv(x))
        return F.relu(x) if self.relu else x


class Branch(nn.Module):
    def __init__(self, convs):
        super().__init__()
        self.convs = nn.ModuleList(convs)

    def forward(self, x):
        for c in self.convs:
            x = c(x)
        return x


class ConvUnit(nn.Module):
    """Plain 3x3 | MSAC (3x3 + 1x3 + 3x1 per dilation, summed) | factorised (1xk -> kx1)."""

    def __init__(self, cin, cout, dilation, kind):
        super().__init__()
        k = kind["kind"]
        if k == "plain":
            branches = [[ConvBn(cin, cout, (3, 3), dilation, True, False)]]
        elif k == "msac":
            branches = [
                [ConvBn(cin, cout, ks, dilation * d, False, False)]
                for d in kind["dilations"]
                for ks in [(3, 3), (1, 3), (3, 1)]
            ]
        elif k == "factorised":
            branches = [
                [ConvBn(cin, cout, (1, n), dilation, False, False), ConvBn(cout, cout, (n, 1), dilation, False, False)]
                for n in kind["kernels"]
            ]
        else:
            raise ValueError(f"unknown unit kind {k}")
        self.branches = nn.ModuleList([Branch(b) for b in branches])

    def forward(self, x):
        return F.relu(sum(b(x) for b in self.branches))


class Rsu(nn.Module):
    def __init__(self, height, cin, mid, cout, dilated, unit, entry=None):
        super().__init__()
        levels = height - 1
        ld = (lambda k: 1 << k) if dilated else (lambda k: 1)
        self.dilated = dilated
        self.conv_in = ConvUnit(cin, cout, 1, entry or unit)
        self.encoders = nn.ModuleList([ConvUnit(cout if k == 0 else mid, mid, ld(k), unit) for k in range(levels)])
        self.bottom = ConvUnit(mid, mid, (1 << levels) if dilated else 2, unit)
        self.decoders = nn.ModuleList([ConvUnit(2 * mid, cout if k == 0 else mid, ld(k), unit) for k in range(levels)])

    def forward(self, x):
        hxin = self.conv_in(x)
        h = hxin
        skips = []
        for k, enc in enumerate(self.encoders):
            if k > 0 and not self.dilated:
                h = F.max_pool2d(h, 2, 2, ceil_mode=True)
            h = enc(h)
            skips.append(h)
        d = self.bottom(h)
        for k in reversed(range(len(self.decoders))):
            s = skips[k]
            d = self.decoders[k](torch.cat([resize_like(d, s.shape[2:], False), s], 1))
        return d + hxin


class VggBlock(nn.Module):
    def __init__(self, cin, mid, cout, unit):
        super().__init__()
        self.conv1 = ConvUnit(cin, mid, 1, unit)
        self.conv2 = ConvUnit(mid, cout, 1, unit)

    def forward(self, x):
        return self.conv2(self.conv1(x))


class Grid:
    """Node layout of U-Net (plain) / UNet++ (nested) decoders; see crates/medseg/src/nn/grid.rs."""

    def __init__(self, levels, skips, up_first, align_corners):
        self.levels, self.skips, self.up_first, self.align = levels, skips, up_first, align_corners

    def nodes(self):
        L = self.levels
        if self.skips == "nested":
            return [(i, j) for j in range(1, L) for i in reversed(range(L - j))]
        return [(i, L - 1 - i) for i in reversed(range(L - 1))]

    def skip_columns(self, j):
        return list(range(j)) if self.skips == "nested" else [0]

    def in_channels(self, i, j, ch):
        return sum(ch(i, c) for c in self.skip_columns(j)) + ch(i + 1, j - 1)

    def row_ends(self):
        return [(i, self.levels - 1 - i) for i in range(self.levels)]

    def forward(self, encoded, run):
        grid = {(i, 0): x for i, x in enumerate(encoded)}
        for k, (i, j) in enumerate(self.nodes()):
            skips = [grid[(i, c)] for c in self.skip_columns(j)]
            up = resize_like(grid[(i + 1, j - 1)], skips[0].shape[2:], self.align)
            grid[(i, j)] = run(k, torch.cat([up] + skips if self.up_first else skips + [up], 1))
        return grid


class U2Net(nn.Module):
    def __init__(self, cfg, out_channels=1):
        super().__init__()
        enc, dec = cfg["encoder"], cfg["decoder"]
        unit, entry = cfg["unit"], cfg.get("entry_unit")
        self.grid = Grid(len(enc), cfg["skips"], True, False)
        cin = cfg["in_channels"]
        encoder = []
        for s in enc:
            encoder.append(Rsu(s["height"], cin, s["mid"], s["out"], s["dilated"], unit, entry))
            cin = s["out"]
        self.encoder = nn.ModuleList(encoder)
        ch = lambda i, j: enc[i]["out"] if j == 0 else dec[i]["out"]
        nodes = []
        for i, j in self.grid.nodes():
            c, s = self.grid.in_channels(i, j, ch), dec[i]
            if cfg["node"] == "rsu":
                nodes.append(Rsu(s["height"], c, s["mid"], s["out"], s["dilated"], unit, entry))
            else:
                nodes.append(VggBlock(c, s["out"], s["out"], unit))
        self.decoder = nn.ModuleList(nodes)
        self.heads = [tuple(h) for h in cfg["heads"]] or self.grid.row_ends()
        k = cfg["side_kernel"]
        K = out_channels
        self.sides = nn.ModuleList([nn.Conv2d(ch(i, j), K, k, padding=k // 2) for i, j in self.heads])
        self.fuse = nn.Conv2d(len(self.heads) * K, K, 1)

    def forward(self, x):
        size = x.shape[2:]
        encoded, h = [], x
        for i, stage in enumerate(self.encoder):
            if i > 0:
                h = F.max_pool2d(h, 2, 2, ceil_mode=True)
            h = stage(h)
            encoded.append(h)
        grid = self.grid.forward(encoded, lambda k, t: self.decoder[k](t))
        sides = [resize_like(head(grid[n]), size, False) for n, head in zip(self.heads, self.sides)]
        return self.fuse(torch.cat(sides, 1)), sides


class Unet(nn.Module):
    def __init__(self, cfg, out_channels=1):
        super().__init__()
        w, unit = cfg["widths"], cfg["unit"]
        self.grid = Grid(len(w), cfg["skips"], False, True)
        self.encoder = nn.ModuleList(
            [VggBlock(cfg["in_channels"] if i == 0 else w[i - 1], w[i], w[i], unit) for i in range(len(w))]
        )
        self.decoder = nn.ModuleList(
            [VggBlock(self.grid.in_channels(i, j, lambda i, _: w[i]), w[i], w[i], unit) for i, j in self.grid.nodes()]
        )
        self.ds = cfg["deep_supervision"]
        self.heads = nn.ModuleList([nn.Conv2d(w[0], out_channels, 1) for _ in range(len(w) - 1 if self.ds else 1)])

    def forward(self, x):
        encoded, h = [], x
        for i, block in enumerate(self.encoder):
            if i > 0:
                h = F.max_pool2d(h, 2, 2)
            h = block(h)
            encoded.append(h)
        grid = self.grid.forward(encoded, lambda k, t: self.decoder[k](t))
        if self.ds:
            sides = [head(grid[(0, k + 1)]) for k, head in enumerate(self.heads)]
            return sum(sides) / len(sides), sides
        return self.heads[0](grid[(0, self.grid.levels - 1)]), []


def build(cfg, out_channels=1):
    """Builds a network from the Rust `ModelConfig` JSON (tagged by "arch") with `out_channels`
    (K) output maps per head (1: binary; `ModelConfig::init_with_outputs` in Rust)."""
    return {"u2net": U2Net, "unet": Unet}[cfg["arch"]](cfg, out_channels)


def trainable_params(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
