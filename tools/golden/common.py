"""Shared helpers for the golden-fixture generators in tools/golden/.

Every fixture records the generator, the pinned library versions, the seed and the
tolerance the Rust tests apply, so each expected number traces to this directory.
"""

import json
import math
import os
import platform
import re

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "crates", "medseg", "tests", "fixtures", "golden")


def versions(*modules):
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for m in modules:
        out[m.__name__] = m.__version__.split("+")[0]
    return out


def f32_list(a):
    """Flattened values as Python floats that are exactly representable in f32."""
    return [float(v) for v in np.asarray(a, dtype=np.float32).ravel()]


def f64(v):
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"non-finite golden value {v}")
    return v


def write(name, payload):
    os.makedirs(FIXTURES, exist_ok=True)
    path = os.path.join(FIXTURES, name)
    text = json.dumps(payload, indent=1)
    # Keep numeric arrays on one line so the files stay small and diffable.
    text = re.sub(r"\[\s*([-0-9.eE+,\s]*?|null|true|false)\s*\]",
                  lambda m: "[" + ",".join(v.strip() for v in m.group(1).split(",")) + "]", text)
    with open(path, "w") as f:
        f.write(text + "\n")
    size = os.path.getsize(path)
    if size > 100_000:
        raise SystemExit(f"{path} is {size} bytes; keep fixtures under 100 KB")
    print(f"wrote {os.path.relpath(path, ROOT)} ({size} bytes)")
