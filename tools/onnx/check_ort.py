"""ONNX Runtime against medseg: runs every exported file of a fixture folder (written by
`cargo test -p medseg --test onnx -- --ignored write_ort_fixtures` with MEDSEG_ONNX_OUT=DIR)
in ONNX Runtime's CPU provider and compares its logits with medseg's.

Each file is first checked by `onnx.checker.check_model(full_check=True)` (schema and shape
inference). Pass: max |ORT - medseg| <= 1e-4 * max(1, max |medseg|) for every case.

Run: .venv/bin/python tools/onnx/check_ort.py DIR [--json OUT.json]   (versions: tools/requirements.txt)
"""

import argparse
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort

TOL = 1e-4


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--json")
    args = ap.parse_args()
    index = json.load(open(os.path.join(args.dir, "index.json")))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    sessions = {}
    rows, failed = [], 0
    for case in index:
        model = case["model"]
        if model not in sessions:
            path = os.path.join(args.dir, f"{model}.onnx")
            onnx.checker.check_model(onnx.load(path), full_check=True)
            sessions[model] = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        base = os.path.join(args.dir, f"{model}.{case['case']}")
        x = np.fromfile(base + ".input.f32", "<f4").reshape(case["shape"])
        ours = np.fromfile(base + ".logits.f32", "<f4")
        theirs = sessions[model].run(["logits"], {"image": x})[0].ravel()
        scale = max(1.0, float(np.abs(ours).max()))
        diff = float(np.abs(theirs - ours).max())
        ok = theirs.shape == ours.shape and diff <= TOL * scale
        failed += not ok
        rows.append({"model": model, "case": case["case"], "shape": case["shape"], "real": case["real"],
                     "max_abs_diff": diff, "logit_scale": scale, "pass": ok})
        print(f"{'ok  ' if ok else 'FAIL'} {model:24} {case['case']:20} max |diff| {diff:.2e} (scale {scale:.1f})")
    doc = {"generator": "tools/onnx/check_ort.py", "versions": {"onnxruntime": ort.__version__, "onnx": onnx.__version__,
           "numpy": np.__version__}, "tolerance": f"{TOL} * max(1, max |logit|)", "cases": rows}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
    print(f"{len(rows) - failed} of {len(rows)} cases within tolerance (ONNX Runtime {ort.__version__})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
