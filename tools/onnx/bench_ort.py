"""ONNX Runtime's speed on medseg's DRIVE inference: the exported DRIVE model on the network
input of one DRIVE test image (`medseg predict --save-input`), with medseg's tiling (the tile,
overlap, batch and Gaussian blending of the weights' metadata, `tiling`) and as one whole image,
on 2 threads. Prints and writes the median of REPEATS runs after one warm-up.

Run: .venv/bin/python tools/onnx/bench_ort.py MODEL.onnx NAME_input.json [--repeats 5] [--json OUT]
"""

import argparse
import json
import math
import statistics
import time

import numpy as np
import onnxruntime as ort


def tile_steps(n, tile, overlap):
    """medseg's `tile_steps`: evenly spread starts covering [0, n)."""
    if n <= tile:
        return [0]
    target = max(tile * (1.0 - overlap), 1.0)
    k = math.ceil((n - tile) / target) + 1
    return [round(i * (n - tile) / (k - 1)) for i in range(k)]


def gaussian(tw, th, sigma_scale):
    """medseg's `blend_weights` for Gaussian blending."""
    def axis(n):
        c, s = (n - 1) / 2, max(sigma_scale * n, 1e-3)
        return np.exp(-((np.arange(n) - c) ** 2) / (2 * s * s))
    w = np.outer(axis(th), axis(tw))
    w /= w.max()
    return np.maximum(w, max(w[w > 0].min(), 1e-6)).astype(np.float32)


def tiled(session, x, tiling):
    _, c, h, w = x.shape
    tw, th = tiling["tile"]
    ph, pw = max(h, th), max(w, tw)
    padded = np.zeros((c, ph, pw), np.float32)
    padded[:, :h, :w] = x[0]
    weights = gaussian(tw, th, tiling["blend"]["gaussian"]["sigma_scale"])
    acc, wsum = np.zeros((ph, pw)), np.zeros((ph, pw))
    pos = [(x0, y0) for y0 in tile_steps(ph, th, tiling["overlap"]) for x0 in tile_steps(pw, tw, tiling["overlap"])]
    for i in range(0, len(pos), tiling["batch"]):
        chunk = pos[i:i + tiling["batch"]]
        batch = np.stack([padded[:, y0:y0 + th, x0:x0 + tw] for x0, y0 in chunk])
        prob = 1 / (1 + np.exp(-session.run(["logits"], {"image": batch})[0][:, 0]))
        for (x0, y0), p in zip(chunk, prob):
            acc[y0:y0 + th, x0:x0 + tw] += p * weights
            wsum[y0:y0 + th, x0:x0 + tw] += weights
    return (acc / wsum)[:h, :w], len(pos)


def timed(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("input_json")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    info = json.load(open(args.input_json))
    x = np.fromfile(args.input_json.replace(".json", ".f32"), "<f4").reshape(info["shape"])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    tiling = json.loads(session.get_modelmeta().custom_metadata_map["tiling"])
    _, tiles = tiled(session, x, tiling)
    t_tiled = timed(lambda: tiled(session, x, tiling), args.repeats)
    t_whole = timed(lambda: session.run(["logits"], {"image": x}), args.repeats)
    doc = {"generator": "tools/onnx/bench_ort.py", "onnxruntime": ort.__version__, "threads": 2,
           "input_shape": info["shape"], "tiling": tiling, "tiles": tiles, "repeats": args.repeats,
           "tiled_s": t_tiled, "whole_image_s": t_whole}
    print(json.dumps(doc, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
