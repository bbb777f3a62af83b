"""Compares two safetensors files tensor by tensor (f32 only; standard library only).

    python3 scripts/compare-weights.py A.safetensors B.safetensors

Prints how many tensors differ and the largest absolute difference (scripts/kill-resume.sh).
"""

import array
import json
import struct
import sys


def tensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        out[name] = array.array("f", data[base + start : base + end])
    return out


def main():
    a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
    if a.keys() != b.keys():
        print(f"different tensor names: {sorted(a.keys() ^ b.keys())[:5]}")
        return
    differ, worst, worst_name = 0, 0.0, ""
    for name in sorted(a):
        d = max((abs(x - y) for x, y in zip(a[name], b[name])), default=0.0)
        if d > 0:
            differ += 1
        if d > worst:
            worst, worst_name = d, name
    print(f"{differ} of {len(a)} tensors differ, largest difference {worst:.3g} ({worst_name})")


if __name__ == "__main__":
    main()
