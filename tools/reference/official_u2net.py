"""Official U-2-Net checkpoints (xuebinqin/U-2-Net `u2net.pth`, `u2netp.pth`) and medseg.

Our reference networks (medseg_ref.py) equal the official `model/u2net.py` ones once parameters
are matched by structure; only the names differ. This script:

  fixture   writes crates/medseg/tests/fixtures/golden/models/u2netp_small_official.pth: the
            weights of the `u2netp_small` golden fixture (U2-NetP's exact structure at reduced
            width) renamed to the official naming and saved with torch.save, as the official
            training script does. crates/medseg/tests/checkpoint.rs loads it and checks medseg's
            outputs against the golden logits.
  official  REPO OUT: builds the official U2NET and U2NETP from a local clone of
            xuebinqin/U-2-Net (fetched by you, never committed), seeded weights with BatchNorm
            statistics randomised, saves OUT/{u2net,u2netp}.pth and the official forward's
            logits (the d0 and d1..d6 maps before their sigmoid) on a seeded input to
            OUT/{u2net,u2netp}.json. `MEDSEG_OFFICIAL_CHECK=OUT cargo test -p medseg --test
            checkpoint -- --ignored` then compares medseg's outputs.

Run: .venv/bin/python tools/reference/official_u2net.py fixture   (versions: tools/requirements.txt)
"""

import json
import os
import re
import sys

import torch
from safetensors.torch import load_file

HERE = os.path.dirname(__file__)
MODELS = os.path.join(HERE, "..", "..", "crates", "medseg", "tests", "fixtures", "golden", "models")


def official_name(ours, encoder_heights, decoder_heights):
    """The official name of one of medseg's (PyTorch-style) parameter names."""
    n = len(encoder_heights)
    m = re.fullmatch(r"sides\.(\d+)\.(.+)", ours)
    if m:
        return f"side{int(m[1]) + 1}.{m[2]}"
    m = re.fullmatch(r"fuse\.(.+)", ours)
    if m:
        return f"outconv.{m[1]}"
    m = re.fullmatch(r"(encoder|decoder)\.(\d+)\.(conv_in|encoders\.\d+|bottom|decoders\.\d+)\.branches\.0\.convs\.0\.(conv|bn)\.(.+)", ours)
    assert m, ours
    part, k, unit, layer, field = m[1], int(m[2]), m[3], m[4], m[5]
    if part == "encoder":
        stage, height = f"stage{k + 1}", encoder_heights[k]
    else:
        level = n - 1 - k  # decoder node k sits at level n-2-k, the official stage{level}d
        stage, height = f"stage{level}d", decoder_heights[level - 1]
    if unit == "conv_in":
        conv = "rebnconvin"
    elif unit == "bottom":
        conv = f"rebnconv{height}"
    elif unit.startswith("encoders."):
        conv = f"rebnconv{int(unit.split('.')[1]) + 1}"
    else:
        conv = f"rebnconv{int(unit.split('.')[1]) + 1}d"
    return f"{stage}.{conv}.{'conv_s1' if layer == 'conv' else 'bn_s1'}.{field}"


def fixture():
    cfg = json.load(open(os.path.join(MODELS, "u2netp_small.json")))["config"]
    enc = [s["height"] for s in cfg["encoder"]]
    dec = [s["height"] for s in cfg["decoder"]]
    ours = load_file(os.path.join(MODELS, "u2netp_small.safetensors"))
    state = {official_name(k, enc, dec): v for k, v in ours.items()}
    # The official checkpoints carry BatchNorm's counters too.
    for k in list(state):
        if k.endswith("bn_s1.running_var"):
            state[k.replace("running_var", "num_batches_tracked")] = torch.tensor(100)
    # The legacy (non-zip) serialisation, as the official checkpoints of 2020 were written.
    torch.save(state, os.path.join(MODELS, "u2netp_small_official.pth"), _use_new_zipfile_serialization=False)
    print(f"wrote u2netp_small_official.pth ({len(state)} tensors)")


def official(repo, out):
    sys.path.insert(0, repo)
    from model.u2net import U2NET, U2NETP  # noqa: E402  (the official definitions)

    os.makedirs(out, exist_ok=True)
    for seed, (name, cls) in enumerate([("u2netp", U2NETP), ("u2net", U2NET)]):
        torch.manual_seed(seed)
        net = cls(3, 1)
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.2, 0.2)
        net.eval()
        # Legacy serialisation, as the published checkpoints were written (burn 0.22's reader
        # rejects the zip files of torch 2.13: "Invalid Central Directory header").
        torch.save(net.state_dict(), os.path.join(out, f"{name}.pth"), _use_new_zipfile_serialization=False)
        x = torch.rand(1, 3, 75, 83)
        # The official forward returns sigmoids; capture the logits of d0..d6 before them.
        logits = []
        real_sigmoid = torch.sigmoid
        torch.sigmoid = lambda t: (logits.append(t), real_sigmoid(t))[1]
        import torch.nn.functional as F
        real_f_sigmoid = F.sigmoid
        F.sigmoid = torch.sigmoid
        try:
            with torch.no_grad():
                net(x)
        finally:
            torch.sigmoid = real_sigmoid
            F.sigmoid = real_f_sigmoid
        assert len(logits) == 7, f"expected 7 sigmoid calls, saw {len(logits)}"
        r = lambda t: [round(float(v), 7) for v in t.flatten()]
        doc = {
            "generator": "tools/reference/official_u2net.py official",
            "versions": {"torch": torch.__version__},
            "seed": seed,
            "preset": name,
            "input_shape": list(x.shape),
            "input": r(x),
            "fused": r(logits[0]),
            "sides": [r(t) for t in logits[1:]],
        }
        with open(os.path.join(out, f"{name}.json"), "w") as f:
            json.dump(doc, f)
        print(f"wrote {name}.pth and {name}.json")


if __name__ == "__main__":
    if sys.argv[1:2] == ["fixture"]:
        fixture()
    elif sys.argv[1:2] == ["official"] and len(sys.argv) == 4:
        official(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
