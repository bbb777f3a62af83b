"""Golden forward fixtures for the Rust model zoo (crates/medseg/tests/golden_models.rs).

For each config: seeded PyTorch weights (BatchNorm statistics randomised too), a seeded input,
and the reference logits in eval mode. Weights go to `<name>.safetensors` (num_batches_tracked
dropped), everything else to `<name>.json`.

Run: .venv/bin/python tools/reference/gen_golden_models.py [NAME...]   (versions: tools/requirements.txt)
(names given: only those fixtures are rewritten)
"""

import json
import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
from medseg_ref import build, trainable_params  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "medseg", "tests", "fixtures", "golden", "models")


def rsu(h, mid, out, dilated=False):
    return {"height": h, "mid": mid, "out": out, "dilated": dilated}


PLAIN = {"kind": "plain"}
MSAC = {"kind": "msac", "dilations": [1, 2]}

CONFIGS = {
    # U2-NetP's exact structure (6 levels, RSU7..RSU4F) at reduced width.
    "u2netp_small": {
        "arch": "u2net", "in_channels": 3,
        "encoder": [rsu(7, 4, 8), rsu(6, 4, 8), rsu(5, 4, 8), rsu(4, 4, 8), rsu(4, 4, 8, True), rsu(4, 4, 8, True)],
        "decoder": [rsu(7, 4, 8), rsu(6, 4, 8), rsu(5, 4, 8), rsu(4, 4, 8), rsu(4, 4, 8, True)],
        "unit": PLAIN, "entry_unit": None, "skips": "plain", "node": "rsu", "heads": [], "side_kernel": 3,
    },
    # The msa-u2net-tiny preset (MSAC units, plain entries, nested skips, 6 heads).
    "msa_u2net_tiny": {
        "arch": "u2net", "in_channels": 3,
        "encoder": [rsu(5, 2, 4), rsu(4, 4, 8), rsu(3, 8, 16), rsu(4, 12, 24, True)],
        "decoder": [rsu(5, 2, 4), rsu(4, 4, 8), rsu(3, 8, 16)],
        "unit": MSAC, "entry_unit": PLAIN, "skips": "nested", "node": "rsu",
        "heads": [[0, 1], [0, 2], [0, 3], [1, 2], [2, 1], [3, 0]], "side_kernel": 3,
    },
    # UNet++ with deep supervision and factorised units at reduced width.
    "unet_pp_small": {
        "arch": "unet", "in_channels": 3, "widths": [4, 8, 12, 16], "skips": "nested",
        "deep_supervision": True, "unit": {"kind": "factorised", "kernels": [3, 5]},
    },
}

# Multi-structure (K > 1) networks: the config above plus an output-channel count. Only new
# fixtures are added here, so the binary fixtures above stay byte-for-byte as they were.
MULTI = {
    # The msa-u2net-tiny structure with K = 3 (side heads and fusion K-channel).
    "msa_u2net_tiny_k3": ("msa_u2net_tiny", 3),
    # UNet++ with deep supervision, K = 3 on each of the three heads.
    "unet_pp_small_k3": ("unet_pp_small", 3),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    only = set(sys.argv[1:])
    jobs = [(name, cfg, 1, 1000 + k) for k, (name, cfg) in enumerate(CONFIGS.items())]
    jobs += [(name, CONFIGS[base], out, 2000 + k) for k, (name, (base, out)) in enumerate(MULTI.items())]
    for name, cfg, out_channels, seed in jobs:
        if only and name not in only:
            continue
        torch.manual_seed(seed)
        model = build(cfg, out_channels)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.2, 0.2)
        model.eval()
        x = torch.rand(1, 3, 29, 35)
        with torch.no_grad():
            fused, sides = model(x)
        state = {k: v.contiguous() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
        save_file(state, os.path.join(OUT, f"{name}.safetensors"))
        r = lambda t: [round(float(v), 7) for v in t.flatten()]
        doc = {
            "generator": "tools/reference/gen_golden_models.py",
            "versions": {"torch": torch.__version__},
            "seed": seed,
            "tolerance": 1e-4,
            "config": cfg,
            **({"out_channels": out_channels} if out_channels != 1 else {}),
            "trainable_params": trainable_params(model),
            "input_shape": list(x.shape),
            "input": r(x),
            "fused": r(fused),
            "sides": [r(s) for s in sides],
        }
        with open(os.path.join(OUT, f"{name}.json"), "w") as f:
            json.dump(doc, f)
        print(name, trainable_params(model), "params")


if __name__ == "__main__":
    main()
