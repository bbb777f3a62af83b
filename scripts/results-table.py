#!/usr/bin/env python3
"""Prints a Markdown table of result folders written by scripts/reproduce.sh or run-parallel.sh.

    scripts/results-table.py results/drive-ablation/*

Each folder holds last/metrics.json (`medseg eval --last`: the last epoch's weights, the
protocol), metrics.json (best-validation weights), train_metrics.csv (the run's metrics.csv) and
time.txt (`/usr/bin/time -v`). The test metrics come from last/metrics.json, or from the
top-level metrics.json where a folder has no last/ (runs scored before the protocol changed; the
"weights" column says which). Columns: test F1 (mean over images / pooled over pixels), AUC
(pooled), sensitivity, specificity, accuracy (pooled), weights, best validation F1 and its
epoch, training wall time and peak memory. Standard library only.

    scripts/results-table.py --variants results/drive/*

prints instead, per folder, pooled F1 / AUC of the four evaluations (best-validation weights:
the top level, tta/; last-epoch weights: last/, the protocol, and last-tta/), where present.
"""

import csv
import json
import os
import re
import sys


def wall_and_rss(folder):
    path = os.path.join(folder, "time.txt")
    if not os.path.exists(path):
        return "", ""
    text = open(path).read()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    return (wall.group(1) if wall else "", f"{int(rss.group(1)) / 1024:.0f}" if rss else "")


def best_val(folder):
    path = os.path.join(folder, "train_metrics.csv")
    if not os.path.exists(path):
        return ""
    rows = [r for r in csv.DictReader(open(path)) if r.get("val_f1")]
    if not rows:
        return ""
    best = max(rows, key=lambda r: float(r["val_f1"]))
    return f"{float(best['val_f1']):.4f} @{best['epoch']}"


def main(folders):
    print("| run | test F1 mean | test F1 pooled | AUC | Se | Sp | Acc | weights | best val F1 @epoch | train wall | peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for folder in folders:
        path, weights = os.path.join(folder, "last", "metrics.json"), "last epoch"
        if not os.path.exists(path):
            path, weights = os.path.join(folder, "metrics.json"), "best val"
        if not os.path.exists(path):
            print(f"| {os.path.basename(folder.rstrip('/'))} | (no metrics.json) ||||||||||")
            continue
        m = json.load(open(path))
        mean, pooled = m["mean"], m["pooled"]
        wall, rss = wall_and_rss(folder)
        auc = pooled.get("auc")
        auc = f"{auc:.4f}" if auc is not None else "-"
        print(
            f"| {os.path.basename(folder.rstrip('/'))} | {mean['f1']:.4f} | {pooled['f1']:.4f} | {auc} | "
            f"{pooled['sensitivity']:.4f} | {pooled['specificity']:.4f} | {pooled['accuracy']:.4f} | "
            f"{weights} | {best_val(folder)} | {wall} | {rss} |"
        )


def variants(folders):
    names = ["", "tta", "last", "last-tta"]
    print("| run | best-val weights | + TTA | last-epoch weights | last + TTA |")
    print("|---|---|---|---|---|")
    for folder in folders:
        cells = []
        for v in names:
            path = os.path.join(folder, v, "metrics.json")
            if not os.path.exists(path):
                cells.append("")
                continue
            p = json.load(open(path))["pooled"]
            auc = p.get("auc")
            f1 = p["f1"] if "f1" in p else float("nan")
            cells.append(f"{f1:.4f} / {auc:.4f}" if auc is not None else f"{f1:.4f}")
        print(f"| {os.path.basename(folder.rstrip('/'))} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args == ["--variants"]:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    if args[0] == "--variants":
        variants(args[1:])
    else:
        main(args)
