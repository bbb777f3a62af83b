"""Golden values for medseg's K-channel losses against MONAI (crates/medseg/src/loss/).

Writes crates/medseg/tests/fixtures/golden/multi_losses.json, checked by
crates/medseg/tests/golden_multi_losses.rs:

* multi-label (sigmoid per channel): monai.losses.DiceLoss(sigmoid=True) per image and per
  batch, and DiceLoss(sigmoid=True) + torch's BCE with logits (MONAI's DiceCELoss switches to the
  softmax cross-entropy for more than one channel, even with sigmoid=True, so it does not fit
  overlapping structures);
* multi-class (softmax over exclusive classes, one-hot targets): DiceLoss(softmax=True) and
  DiceCELoss(softmax=True, to_onehot_y=True) without and with class weights (MONAI applies
  `weight` to both the cross-entropy and the Dice).

medseg's `smooth` is MONAI's smooth_nr = smooth_dr. Every input has a class absent from one
image (empty target), once predicted empty and once not, so the MONAI handling of absent
classes (s / (sum p + s), never 0/0) is covered. Values and autograd gradients in float64.

Run from the repository root (versions pinned in tools/requirements.txt):

    .venv/bin/python tools/golden/gen_multi_losses.py
"""

import monai
import numpy as np
import torch
import torch.nn.functional as F
from monai.losses import DiceCELoss, DiceLoss

from common import f32_list, f64, versions, write

SEED = 20260522
rng = np.random.default_rng(SEED)
SHAPE = (2, 3, 7, 6)  # B, K, H, W: odd sizes on purpose


def multi_label_input():
    logits = (rng.standard_normal(SHAPE) * 3.0).astype(np.float32)
    target = (rng.random(SHAPE) < 0.4).astype(np.float32)
    target[0, 2] = 0.0  # class 2 absent from image 0 ...
    logits[0, 2] = -9.0  # ... and predicted absent (dice -> 1 with smoothing)
    target[1, 1] = 0.0  # class 1 absent from image 1, but predicted (dice -> ~0)
    return logits, target


def multi_class_input():
    b, k, h, w = SHAPE
    logits = (rng.standard_normal(SHAPE) * 3.0).astype(np.float32)
    labels = rng.integers(0, k, size=(b, h, w))
    labels[1][labels[1] == 2] = 0  # class 2 absent from image 1
    onehot = np.eye(k, dtype=np.float32)[labels].transpose(0, 3, 1, 2)
    return logits, onehot, labels


def grad_of(fn, logits):
    x = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    loss = fn(x)
    loss.backward()
    return f64(loss.item()), [f64(g) for g in x.grad.numpy().ravel()]


def main():
    ml_logits, ml_target = multi_label_input()
    mc_logits, mc_onehot, mc_labels = multi_class_input()
    y_ml = torch.tensor(ml_target, dtype=torch.float64)
    y_mc = torch.tensor(mc_onehot, dtype=torch.float64)
    lab_mc = torch.tensor(mc_labels[:, None], dtype=torch.float64)  # B1HW label map
    cases = []

    for smooth in [1.0, 1e-5]:
        for batch in [False, True]:
            red = "batch" if batch else "per-image"
            loss = DiceLoss(sigmoid=True, batch=batch, smooth_nr=smooth, smooth_dr=smooth)
            value, grad = grad_of(lambda x: loss(x, y_ml), ml_logits)
            cases.append({"name": f"multi-label dice smooth={smooth} {red}", "input": "multi-label",
                          "kind": "dice", "mode": "multi-label", "smooth": smooth, "reduction": red,
                          "weights": [], "loss": value, "grad": grad})
            loss = DiceLoss(softmax=True, batch=batch, smooth_nr=smooth, smooth_dr=smooth)
            value, grad = grad_of(lambda x: loss(x, y_mc), mc_logits)
            cases.append({"name": f"multi-class dice smooth={smooth} {red}", "input": "multi-class",
                          "kind": "dice", "mode": "multi-class", "smooth": smooth, "reduction": red,
                          "weights": [], "loss": value, "grad": grad})

    # MONAI's DiceCELoss applies the softmax cross-entropy whenever there is more than one
    # channel (even with sigmoid=True), which does not fit overlapping structures; the
    # multi-label reference is its DiceLoss(sigmoid=True) plus torch's BCE with logits.
    dice = DiceLoss(sigmoid=True, smooth_nr=1.0, smooth_dr=1.0)
    value, grad = grad_of(lambda x: dice(x, y_ml) + F.binary_cross_entropy_with_logits(x, y_ml),
                          ml_logits)
    cases.append({"name": "multi-label dice+bce", "input": "multi-label", "kind": "dice-ce",
                  "mode": "multi-label", "smooth": 1.0, "reduction": "per-image", "weights": [],
                  "loss": value, "grad": grad})

    for weights in [[], [0.5, 1.0, 2.0]]:
        w = torch.tensor(weights, dtype=torch.float64) if weights else None
        for batch in [False, True]:
            red = "batch" if batch else "per-image"
            loss = DiceCELoss(softmax=True, to_onehot_y=True, smooth_nr=1.0, smooth_dr=1.0,
                              batch=batch, weight=w)
            value, grad = grad_of(lambda x: loss(x, lab_mc), mc_logits)
            cases.append({"name": f"multi-class dice+ce weights={weights} {red}",
                          "input": "multi-class", "kind": "dice-ce", "mode": "multi-class",
                          "smooth": 1.0, "reduction": red, "weights": weights, "loss": value,
                          "grad": grad})

    write("multi_losses.json", {
        "generator": "tools/golden/gen_multi_losses.py",
        "versions": versions(torch, monai),
        "seed": SEED,
        "tolerance": {"loss_relative": 1e-5, "grad_relative": 1e-4},
        "note": "dice: monai DiceLoss; dice-ce: multi-class monai DiceCELoss (Dice + CE, "
                "lambda_dice = lambda_ce = 1), multi-label monai DiceLoss(sigmoid) + torch BCE "
                "with logits; smooth = smooth_nr = smooth_dr",
        "inputs": {
            "multi-label": {"shape": list(SHAPE), "logits": f32_list(ml_logits),
                            "target": f32_list(ml_target)},
            "multi-class": {"shape": list(SHAPE), "logits": f32_list(mc_logits),
                            "target": f32_list(mc_onehot)},
        },
        "cases": cases,
    })


if __name__ == "__main__":
    main()
