"""Golden values for medseg's per-class metrics (crates/medseg/src/metrics/{classes,surface}.rs).

Writes crates/medseg/tests/fixtures/golden/multi_metrics.json, checked by
crates/medseg/tests/golden_multi_metrics.rs. Two cases, K = 3 classes, 3 images of 23x19:

* multi-label: probabilities per channel, predicted where prob >= 0.5;
* multi-class: softmax-like probabilities, predicted class = argmax, class 0 the background.

References:
* Dice, IoU: monai.metrics.DiceMetric / MeanIoU (include_background=True, ignore_empty=False,
  reduction="none"): both masks empty -> 1.
* sensitivity, specificity, precision (zero denominators -> 1, medseg's rule) and ROC-AUC
  (one-vs-rest on the class probability): scikit-learn.
* HD95: monai.metrics.compute_hausdorff_distance(percentile=95); mean contour distance:
  monai.metrics.compute_average_surface_distance(symmetric=True). MONAI returns NaN/inf when a
  mask is empty; medseg reports null (recorded as null here). Both are cross-checked against a
  SciPy re-implementation (binary_erosion XOR mask, distance_transform_edt).

Run from the repository root (versions pinned in tools/requirements.txt):

    .venv/bin/python tools/golden/gen_multi_metrics.py
"""

import math

import monai
import numpy as np
import scipy
import sklearn
import torch
from monai.metrics import DiceMetric, MeanIoU, compute_average_surface_distance, compute_hausdorff_distance
from scipy import ndimage
from sklearn.metrics import confusion_matrix, roc_auc_score

from common import f64, versions, write

SEED = 20260523
rng = np.random.default_rng(SEED)
B, K, H, W = 3, 3, 23, 19


def ellipse(cy, cx, ry, rx):
    yy, xx = np.mgrid[0:H, 0:W]
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def noisy_prob(mask, shift, noise):
    """A probability map near `mask` shifted by `shift` pixels, plus noise."""
    base = np.roll(mask, shift, axis=(0, 1)).astype(np.float64)
    p = np.clip(0.15 + 0.7 * base + rng.normal(0, noise, mask.shape), 0.0, 1.0)
    return milli(p)


def milli(p):
    """Rounded to thousandths (few distinct values, like a quantised map) and stored as f32 of
    m / 1000, which the Rust side rebuilds exactly as `(m as f64 / 1000.0) as f32`."""
    return (np.round(np.asarray(p, dtype=np.float64) * 1000) / 1000).astype(np.float32)


def multi_label():
    truth = np.zeros((B, K, H, W), dtype=bool)
    probs = np.zeros((B, K, H, W), dtype=np.float32)
    for b in range(B):
        truth[b, 0] = ellipse(8 + b, 8, 5, 4)
        truth[b, 1] = ellipse(14, 10 + b, 6, 5)  # overlaps class 0
        truth[b, 2] = ellipse(4, 14, 2 + b, 3) if b != 1 else False  # absent from image 1
        for k in range(K):
            probs[b, k] = noisy_prob(truth[b, k], (b % 2, (k + b) % 3 - 1), 0.12)
    probs[1, 2] = np.minimum(probs[1, 2], 0.3)  # ... and not predicted there: distances undefined
    probs[2, 2] = np.minimum(probs[2, 2], 0.2)  # present in image 2 but missed: undefined, Dice 0
    pred = probs >= 0.5
    return probs, truth, pred


def multi_class():
    labels = np.zeros((B, H, W), dtype=np.int64)
    logits = rng.normal(0, 0.6, (B, K, H, W))
    for b in range(B):
        labels[b][ellipse(9, 9 + b, 6, 5)] = 1
        labels[b][ellipse(16 - b, 11, 4, 5)] = 2
        shifted = np.roll(labels[b], (1, b - 1), axis=(0, 1))
        for k in range(K):
            logits[b, k] += 2.5 * (shifted == k)
    e = np.exp(logits - logits.max(1, keepdims=True))
    probs = milli(e / e.sum(1, keepdims=True))
    truth = np.eye(K, dtype=bool)[labels].transpose(0, 3, 1, 2)
    arg = np.argmax(probs, axis=1)  # ties to the lower class, as medseg
    pred = np.eye(K, dtype=bool)[arg].transpose(0, 3, 1, 2)
    return probs, truth, pred


def ratio(good, bad):
    return 1.0 if good + bad == 0 else good / (good + bad)


def counts_scores(p, t, prob):
    tn, fp, fn, tp = confusion_matrix(t.ravel(), p.ravel(), labels=[False, True]).ravel()
    both = len(np.unique(t)) == 2
    return {
        "sensitivity": ratio(tp, fn),
        "specificity": ratio(tn, fp),
        "precision": ratio(tp, fp),
        "auc": f64(roc_auc_score(t.ravel(), prob.ravel())) if both else None,
    }


def scipy_distances(p, t):
    """HD95 and mean contour distance re-implemented with SciPy (cross-check of MONAI)."""
    if not p.any() or not t.any():
        return None, None
    ep = p ^ ndimage.binary_erosion(p)
    et = t ^ ndimage.binary_erosion(t)
    d_pt = ndimage.distance_transform_edt(~et)[ep]
    d_tp = ndimage.distance_transform_edt(~ep)[et]
    hd = max(np.quantile(d_pt, 0.95), np.quantile(d_tp, 0.95))
    return float(hd), float(np.concatenate([d_pt, d_tp]).mean())


def finite_or_none(v):
    v = float(v)
    return v if math.isfinite(v) else None


def case(mode, probs, truth, pred):
    tp = torch.tensor(pred, dtype=torch.float32)
    tt = torch.tensor(truth, dtype=torch.float32)
    dice = DiceMetric(include_background=True, reduction="none", ignore_empty=False)(tp, tt)
    iou = MeanIoU(include_background=True, reduction="none", ignore_empty=False)(tp, tt)
    hd = compute_hausdorff_distance(tp, tt, include_background=True, percentile=95)
    asd = compute_average_surface_distance(tp, tt, include_background=True, symmetric=True)
    classes = []
    for k in range(K):
        images = []
        for b in range(B):
            s = counts_scores(pred[b, k], truth[b, k], probs[b, k])
            h, m = finite_or_none(hd[b, k]), finite_or_none(asd[b, k])
            sh, sm = scipy_distances(pred[b, k], truth[b, k])
            assert (h is None) == (sh is None) and (h is None or abs(h - sh) < 1e-4), (h, sh)
            assert (m is None) == (sm is None) and (m is None or abs(m - sm) < 1e-4), (m, sm)
            images.append({"f1": f64(dice[b, k]), "iou": f64(iou[b, k]), **s,
                           "hd95": sh, "mean_contour_distance": sm})
        pooled = counts_scores(pred[:, k], truth[:, k], probs[:, k])
        tpk = (pred[:, k] & truth[:, k]).sum()
        fpk = (pred[:, k] & ~truth[:, k]).sum()
        fnk = (~pred[:, k] & truth[:, k]).sum()
        pooled["f1"] = ratio(2 * tpk, fpk + fnk)
        pooled["iou"] = ratio(tpk, fpk + fnk)
        classes.append({"images": images, "pooled": pooled})
    return {
        "mode": mode,
        "threshold": 0.5,
        "shape": [B, K, H, W],
        "probs_milli": [int(round(float(v) * 1000)) for v in probs.ravel()],
        "truth": "".join("1" if v else "0" for v in truth.ravel()),
        "classes": classes,
    }


def main():
    write("multi_metrics.json", {
        "generator": "tools/golden/gen_multi_metrics.py",
        "versions": versions(torch, monai, sklearn, scipy),
        "seed": SEED,
        "tolerance": {"relative": 1e-6, "distance_absolute": 1e-4},
        "note": "per image and class: f1/iou MONAI, sensitivity/specificity/precision/auc "
                "scikit-learn, hd95/mean_contour_distance MONAI (= SciPy re-implementation); "
                "null = undefined (a mask empty)",
        "cases": [case("multi-label", *multi_label()), case("multi-class", *multi_class())],
    })


if __name__ == "__main__":
    main()
