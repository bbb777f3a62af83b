"""Golden values for medseg's losses (crates/medseg/src/loss/).

Writes two fixtures under crates/medseg/tests/fixtures/golden/:

* losses.json: BCE with logits (torch, with and without pos_weight), top-k BCE (torch's
  per-pixel BCE, flatten(1).topk(k).values.mean(), k = ceil(fraction * C * H * W)), focal loss
  (torchvision.ops.sigmoid_focal_loss, reduction="mean") and soft Dice (medseg's
  definition written in torch), with inputs, loss values and autograd gradients.
* ms_ssim.json: 1 - MS-SSIM(sigmoid(logits), target) from pytorch-msssim, on inputs
  defined by a formula that the Rust test recomputes, so only outputs are stored.

Run from the repository root:

    .venv/bin/python tools/golden/gen_losses.py

Everything is computed in float64 (the reference), the Rust side runs in f32.
"""

import math

import numpy as np
import pytorch_msssim
import torch
import torch.nn.functional as F
import torchvision
from pytorch_msssim.ssim import _fspecial_gauss_1d, _ssim
from torchvision.ops import sigmoid_focal_loss

from common import f32_list, f64, versions, write

SEED = 20250917
MS_SSIM_WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]

torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)


def pointwise_inputs(shape, scale):
    """Random f32 logits (with a few extreme values) and 0/1 targets."""
    logits = (rng.standard_normal(shape) * scale).astype(np.float32)
    flat = logits.reshape(-1)
    flat[:6] = [60.0, -60.0, 120.0, -120.0, 0.0, 1e-3]
    target = (rng.random(shape) < 0.35).astype(np.float32)
    return logits, target


def grad_of(fn, logits, target):
    x = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(target, dtype=torch.float64)
    loss = fn(x, y)
    loss.backward()
    return f64(loss.item()), x.grad.numpy()


def soft_dice_loss(x, y, smooth, reduction):
    """medseg's soft Dice: 1 - (2*sum(p*t) + s) / (sum(p) + sum(t) + s), p = sigmoid(x).

    per-image: sums over [C, H, W] per image, then the mean over the batch of the ratios.
    batch: sums over the whole batch, one ratio.
    """
    p = torch.sigmoid(x)
    dims = (1, 2, 3) if reduction == "per-image" else (0, 1, 2, 3)
    inter = (p * y).sum(dims)
    card = p.sum(dims) + y.sum(dims)
    return 1.0 - ((2.0 * inter + smooth) / (card + smooth)).mean()


def pointwise_cases():
    shape = (2, 1, 6, 6)
    inputs, bce, focal, dice, top_k = {}, [], [], [], []
    for name, scale in [("random", 2.5), ("wide", 8.0)]:
        logits, target = pointwise_inputs(shape, scale)
        inputs[name] = {"shape": list(shape), "logits": f32_list(logits), "target": f32_list(target)}
        base = {"input": name}
        for pw in [None, 3.0, 0.4]:
            def fn(x, y, pw=pw):
                w = None if pw is None else torch.tensor([pw], dtype=torch.float64)
                return F.binary_cross_entropy_with_logits(x, y, pos_weight=w)
            loss, grad = grad_of(fn, logits, target)
            bce.append({"name": f"{name}/pos_weight={pw}", **base, "pos_weight": pw,
                        "loss": loss, "grad": [f64(g) for g in grad.ravel()]})
        for alpha, gamma in [(0.25, 2.0), (0.5, 1.0), (None, 2.0), (0.25, 0.0), (0.75, 3.5)]:
            def fn(x, y, alpha=alpha, gamma=gamma):
                a = -1.0 if alpha is None else alpha  # torchvision: alpha < 0 disables weighting
                return sigmoid_focal_loss(x, y, alpha=a, gamma=gamma, reduction="mean")
            loss, grad = grad_of(fn, logits, target)
            focal.append({"name": f"{name}/alpha={alpha},gamma={gamma}", **base, "alpha": alpha,
                          "gamma": gamma, "loss": loss, "grad": [f64(g) for g in grad.ravel()]})
        for fraction in [0.25, 0.7, 1.0]:
            def fn(x, y, fraction=fraction):
                per = F.binary_cross_entropy_with_logits(x, y, reduction="none").flatten(1)
                k = min(per.shape[1], max(1, math.ceil(fraction * per.shape[1])))
                return per.topk(k, dim=1).values.mean()
            loss, grad = grad_of(fn, logits, target)
            top_k.append({"name": f"{name}/fraction={fraction}", **base, "fraction": fraction,
                          "loss": loss, "grad": [f64(g) for g in grad.ravel()]})
        for smooth in [1.0, 1e-5]:
            for reduction in ["per-image", "batch"]:
                def fn(x, y, smooth=smooth, reduction=reduction):
                    return soft_dice_loss(x, y, smooth, reduction)
                loss, grad = grad_of(fn, logits, target)
                dice.append({"name": f"{name}/smooth={smooth},{reduction}", **base, "smooth": smooth,
                             "reduction": reduction, "loss": loss,
                             "grad": [f64(g) for g in grad.ravel()]})
    return inputs, bce, focal, dice, top_k


# ---------------------------------------------------------------------------------------------
# MS-SSIM on formula inputs.

FORMULA = {
    "s": "s[b,i,j] = sin(0.045*i + 0.3*b)*cos(0.06*j) + 0.5*sin(0.21*i - 0.17*j + b)",
    "target": "y[b,0,i,j] = 1 if s[b,i,j] > 0.2 else 0",
    "logits": "x[b,0,i,j] = 5*(s[b,i,j] - 0.2) + 1.5*sin(0.9*i)*sin(0.8*j + b) + 0.8*sin(0.031*(i + 2*j) + b)",
    "note": "i = row, j = column, b = batch index, all in float64; x is then rounded to f32",
}


def formula_inputs(b, h, w):
    bb, ii, jj = np.meshgrid(np.arange(b, dtype=np.float64), np.arange(h, dtype=np.float64),
                             np.arange(w, dtype=np.float64), indexing="ij")
    s = np.sin(0.045 * ii + 0.3 * bb) * np.cos(0.06 * jj) + 0.5 * np.sin(0.21 * ii - 0.17 * jj + bb)
    y = (s > 0.2).astype(np.float64)
    x = (5 * (s - 0.2) + 1.5 * np.sin(0.9 * ii) * np.sin(0.8 * jj + bb)
         + 0.8 * np.sin(0.031 * (ii + 2 * jj) + bb))
    x = x.astype(np.float32).astype(np.float64)
    return x[:, None], y[:, None]


def medseg_scale_rule(min_side, win_size=11):
    """medseg's small-input rule (loss/ms_ssim.rs): the most scales n <= 5 with
    min_side > (win_size - 1) * 2^(n - 1), the pytorch-msssim condition generalised;
    if even one scale does not fit, one scale with the window shrunk to the largest odd size
    <= min_side. Five scales use the published weights as they are; fewer scales use the first
    n weights divided by their sum."""
    for n in range(5, 0, -1):
        if min_side > (win_size - 1) * 2 ** (n - 1):
            if n == 5:
                return list(MS_SSIM_WEIGHTS), win_size
            w = MS_SSIM_WEIGHTS[:n]
            return [v / sum(w) for v in w], win_size
    win = min_side if min_side % 2 == 1 else min_side - 1
    return [1.0], max(win, 1)


def ms_ssim_levels(X, Y, weights, win_size, win_sigma=1.5):
    """pytorch-msssim's ms_ssim loop (1.0.0) without its 5-scale size assert, so that fewer
    scales can be evaluated; checked against pytorch_msssim.ms_ssim where that applies."""
    win = _fspecial_gauss_1d(win_size, win_sigma).repeat([X.shape[1], 1, 1, 1])
    weights_t = X.new_tensor(weights)
    mcs = []
    for i in range(len(weights)):
        ssim_pc, cs = _ssim(X, Y, win=win, data_range=1.0, size_average=False, K=(0.01, 0.03))
        if i < len(weights) - 1:
            mcs.append(torch.relu(cs))
            padding = [s % 2 for s in X.shape[2:]]
            X = F.avg_pool2d(X, kernel_size=2, padding=padding)
            Y = F.avg_pool2d(Y, kernel_size=2, padding=padding)
    ssim_pc = torch.relu(ssim_pc)
    stack = torch.stack(mcs + [ssim_pc], dim=0)
    return torch.prod(stack ** weights_t.view(-1, 1, 1), dim=0).mean()


def sample_positions(b, h, w, count=96):
    return [[k % b, (37 * k + 11) % h, (53 * k + 7) % w] for k in range(count)]


def ms_ssim_case(b, h, w):
    x_np, y_np = formula_inputs(b, h, w)
    weights, win = medseg_scale_rule(min(h, w))
    x = torch.tensor(x_np, requires_grad=True)
    y = torch.tensor(y_np)
    p = torch.sigmoid(x)
    value = ms_ssim_levels(p, y, weights, win)
    if len(weights) == 5:
        ref = pytorch_msssim.ms_ssim(p, y, data_range=1.0, size_average=True)
        assert abs(ref.item() - value.item()) < 1e-14, (ref.item(), value.item())
    assert 0.05 < value.item() < 0.95, f"degenerate case {b}x{h}x{w}: MS-SSIM {value.item()}"
    loss = 1.0 - value
    loss.backward()
    g = x.grad.numpy()[:, 0]
    positions = sample_positions(b, h, w)
    # MS-SSIM between two continuous images too (no sigmoid), value only.
    bb, ii, jj = np.meshgrid(np.arange(b, dtype=np.float64), np.arange(h, dtype=np.float64),
                             np.arange(w, dtype=np.float64), indexing="ij")
    q_np = 0.5 + 0.4 * np.sin(0.045 * ii + 0.3 * bb) * np.cos(0.06 * jj)
    q = torch.tensor(q_np.astype(np.float32).astype(np.float64)[:, None])
    value_images = ms_ssim_levels(torch.sigmoid(torch.tensor(x_np)), q, weights, win)
    return {
        "name": f"{b}x1x{h}x{w}",
        "shape": [b, 1, h, w],
        "scales": len(weights),
        "window": win,
        "weights": weights,
        "target_sum": f64(y_np.sum()),
        "loss": f64(loss.item()),
        "ms_ssim_images": f64(value_images.item()),
        "grad_sum": f64(g.sum()),
        "grad_abs_sum": f64(np.abs(g).sum()),
        "grad_l2": f64(np.sqrt((g ** 2).sum())),
        "grad_max_abs": f64(np.abs(g).max()),
        "grad_samples": [{"at": pos, "value": f64(g[pos[0], pos[1], pos[2]])} for pos in positions],
    }


def main():
    torch.set_default_dtype(torch.float64)
    inputs, bce, focal, dice, top_k = pointwise_cases()
    meta = {
        "generator": "tools/golden/gen_losses.py",
        "versions": versions(torch, torchvision, np),
        "seed": SEED,
        "dtype": "float64 reference; inputs are f32 values",
    }
    write("losses.json", {
        **meta,
        "tolerance": {"loss_relative": 1e-5, "grad_relative": 1e-4},
        "inputs": inputs,
        "bce": bce,
        "focal": focal,
        "dice": dice,
        "top_k": top_k,
    })
    write("ms_ssim.json", {
        **meta,
        "versions": {**meta["versions"], "pytorch_msssim": "1.0.0"},
        "formula": FORMULA,
        "ms_ssim_images_formula": "q[b,0,i,j] = 0.5 + 0.4*sin(0.045*i + 0.3*b)*cos(0.06*j), "
                                  "rounded to f32; value of MS-SSIM(sigmoid(x), q)",
        "tolerance": {"loss_relative": 1e-5, "grad_relative_to_max": 1e-4},
        "cases": [ms_ssim_case(*s) for s in [(2, 192, 192), (1, 177, 163), (2, 64, 64), (2, 24, 40),
                                             (1, 9, 12)]],
    })


if __name__ == "__main__":
    main()
