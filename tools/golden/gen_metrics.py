"""Golden values for medseg's metrics (crates/medseg/src/metrics/) from scikit-learn.

Writes crates/medseg/tests/fixtures/golden/metrics.json. Run from the repository root:

    .venv/bin/python tools/golden/gen_metrics.py

Conventions mirrored here (and documented in metrics/scores.rs):
* a pixel is predicted positive when prob >= threshold (f32 comparison);
* only pixels inside the field-of-view mask count, when one is given;
* counts-based scores use sklearn's zero_division=1.0: a ratio whose denominator is zero is 1;
* ROC-AUC is null (undefined) when the truth has only one class; average precision is null when
  the truth has no positive pixel (sklearn raises or warns in both cases);
* "mean" is the mean over images (AUC/AP over the images where they are defined, null if none);
  "pooled" is the value over all pixels of all images together (micro).

Probabilities are stored as integers k with a scale (prob = f32(k) / f32(scale), computed in f32
on both sides) or, for scale null, as f32 values. Masks (truth, fov) are strings of '0'/'1'.
"""

import warnings

import numpy as np
import sklearn
from sklearn.metrics import (accuracy_score, average_precision_score, confusion_matrix, f1_score,
                             jaccard_score, precision_score, recall_score, roc_auc_score)

from common import f64, versions, write

SEED = 424242
rng = np.random.default_rng(SEED)


def probs_of(img):
    if img["scale"] is None:
        return np.asarray(img["prob"], dtype=np.float32)
    return np.asarray(img["prob"], dtype=np.float32) / np.float32(img["scale"])


def scores(y, p, threshold):
    """All scores for flat truth y (bool) and probabilities p (f32) with sklearn."""
    yp = p >= np.float32(threshold)
    yi, ypi = y.astype(int), yp.astype(int)
    tn, fp, fn, tp = confusion_matrix(yi, ypi, labels=[0, 1]).ravel()
    out = {
        "tp": int(tp), "fp": int(fp), "tn": int(tn), "fn": int(fn),
        "f1": f64(f1_score(yi, ypi, zero_division=1.0)),
        "iou": f64(jaccard_score(yi, ypi, zero_division=1.0)),
        "sensitivity": f64(recall_score(yi, ypi, zero_division=1.0)),
        "specificity": f64(recall_score(yi, ypi, pos_label=0, zero_division=1.0)),
        "precision": f64(precision_score(yi, ypi, zero_division=1.0)),
        "accuracy": f64(accuracy_score(yi, ypi)),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["auc"] = f64(roc_auc_score(yi, p.astype(np.float64))) if 0 < y.sum() < len(y) else None
        out["ap"] = f64(average_precision_score(yi, p.astype(np.float64))) if y.sum() > 0 else None
    return out


def mean_of(per_image):
    keys = ["f1", "iou", "sensitivity", "specificity", "precision", "accuracy", "auc", "ap"]
    out = {}
    for k in keys:
        vals = [s[k] for s in per_image if s[k] is not None]
        out[k] = f64(np.mean(vals)) if vals else None
    return out


def case(name, images, threshold=0.5, note=""):
    per_image, ys, ps = [], [], []
    for img in images:
        y = unbits(img["truth"])
        p = probs_of(img)
        if img.get("fov") is not None:
            keep = unbits(img["fov"])
            y, p = y[keep], p[keep]
        per_image.append(scores(y, p, threshold))
        ys.append(y)
        ps.append(p)
    pooled = scores(np.concatenate(ys), np.concatenate(ps), threshold)
    return {"name": name, "note": note, "threshold": threshold, "images": images,
            "expected": {"images": per_image, "mean": mean_of(per_image), "pooled": pooled}}


def image(id_, truth, prob, scale, fov=None):
    return {"id": id_, "scale": scale,
            "prob": [int(v) for v in prob] if scale is not None else [float(v) for v in prob],
            "truth": bits(truth), "fov": None if fov is None else bits(fov)}


def bits(mask):
    """A boolean mask as a string of '0'/'1' characters (compact in JSON)."""
    return "".join("1" if v else "0" for v in mask)


def unbits(text):
    return np.frombuffer(text.encode(), dtype=np.uint8) == ord("1")


def correlated(n, rate, noise):
    truth = rng.random(n) < rate
    logit = (2.0 * truth - 1.0) + rng.standard_normal(n) * noise
    return truth, 1.0 / (1.0 + np.exp(-logit))


def disc_fov(h, w):
    ii, jj = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return ((ii - h / 2 + 0.5) ** 2 + (jj - w / 2 + 0.5) ** 2 <= (0.45 * min(h, w)) ** 2).ravel()


def main():
    cases = []

    imgs = []
    for k in range(3):
        t, p = correlated(300, 0.3, 1.2)
        imgs.append(image(f"rand{k}", t, p.astype(np.float32), None))
    cases.append(case("random-f32", imgs, note="continuous f32 probabilities, almost no ties"))

    imgs = []
    for k in range(3):
        t, p = correlated(24 * 24, 0.15 + 0.1 * k, 1.5)
        imgs.append(image(f"{k + 21:02d}", t, np.round(p * 255), 255, fov=disc_fov(24, 24)))
    cases.append(case("u8-ties-fov", imgs, note="8-bit quantised (ties), circular FOV mask"))

    imgs = []
    for k in range(2):
        t, p = correlated(400, 0.4, 1.0)
        imgs.append(image(f"u16-{k}", t, np.round(p * 65535), 65535))
    cases.append(case("u16", imgs, note="16-bit quantised"))

    imgs = []
    for k in range(3):
        t, p = correlated(300, 0.5, 0.8)
        imgs.append(image(f"coarse{k}", t, np.round(p * 4), 4))
    cases.append(case("coarse-ties", imgs, note="probabilities in {0, .25, .5, .75, 1}: heavy ties, "
                                               "ties at the threshold count as positive"))

    imgs = []
    for k in range(2):
        t, p = correlated(300, 0.2, 1.3)
        imgs.append(image(f"thr{k}", t, p.astype(np.float32), None))
    cases.append(case("threshold-0.3", imgs, threshold=0.3))

    n = 64
    zeros, ones = np.zeros(n, bool), np.ones(n, bool)
    low = np.round(rng.random(n) * 100)        # k/255 < 0.5
    mixed = np.round(rng.random(n) * 255)
    imgs = [
        image("empty-truth-fp", zeros, mixed, 255),
        image("both-empty", zeros, low, 255),
        image("all-positive", ones, mixed, 255),
        image("all-positive-missed", ones, low, 255),
        image("normal", np.arange(n) % 3 == 0, mixed, 255),
    ]
    cases.append(case("empty-masks", imgs, note="empty and full truth masks: AUC null when one class "
                                               "is absent, AP null without positives"))

    t = np.arange(100) % 4 == 0
    imgs = [
        image("perfect", t, np.where(t, 200, 50), 255),
        image("inverted", t, np.where(t, 50, 200), 255),
        image("constant", t, np.full(100, 128), 255),
        image("half", t, np.where(np.arange(100) % 8 == 0, 255, 0), 255),
    ]
    cases.append(case("structured", imgs, note="perfect (AUC 1), inverted (AUC 0), constant "
                                              "(AUC 0.5, AP = positive rate), half the positives"))

    write("metrics.json", {
        "generator": "tools/golden/gen_metrics.py",
        "versions": versions(sklearn, np),
        "seed": SEED,
        "tolerance": {"relative": 1e-9, "absolute": 1e-12},
        "cases": cases,
    })


if __name__ == "__main__":
    main()
