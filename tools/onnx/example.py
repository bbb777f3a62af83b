# medseg's DRIVE model in ONNX Runtime, with medseg's tiling (docs/onnx.md). First, with medseg:
#   medseg export --pretrained drive --onnx drive.onnx
#   medseg predict --pretrained drive 01_test.tif --scale none --save-input --out pred
import json, math, sys
import numpy as np, onnxruntime as ort
from PIL import Image

model, pred, name = sys.argv[1:4]                                  # drive.onnx pred 01_test
info = json.load(open(f"{pred}/{name}_input.json"))                # shape, crop box, sizes
x = np.fromfile(f"{pred}/{name}_input.f32", "<f4").reshape(info["shape"])
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
meta = session.get_modelmeta().custom_metadata_map                 # medseg's metadata
tiling, (h, w) = json.loads(meta["tiling"]), x.shape[2:]
(tw, th), ov, sd = tiling["tile"], tiling["overlap"], tiling["blend"]["gaussian"]["sigma_scale"]
starts = lambda n, k, m: [round(i * (n - k) / max(m - 1, 1)) for i in range(m)]
ys, xs = (starts(n, k, math.ceil((n - k) / (k * (1 - ov))) + 1) for n, k in ((h, th), (w, tw)))
g = lambda n: np.exp(-(np.arange(n) - (n - 1) / 2) ** 2 / (2 * (sd * n) ** 2))
blend, acc, wsum = np.outer(g(th), g(tw)), np.zeros((h, w)), np.zeros((h, w))
for y0, x0 in ((y, x) for y in ys for x in xs):
    logits = session.run(["logits"], {"image": x[:, :, y0:y0 + th, x0:x0 + tw]})[0][0, 0]
    acc[y0:y0 + th, x0:x0 + tw] += blend / (1 + np.exp(-logits))
    wsum[y0:y0 + th, x0:x0 + tw] += blend
(a, b, c, d), mask = info["crop"], np.zeros(info["size"][::-1], bool)
mask[b:d, a:c] = acc / wsum >= float(meta["threshold"])
mask &= np.array(Image.open(f"{pred}/{name}_fov.png")) > 0         # medseg's field of view
same = mask == (np.array(Image.open(f"{pred}/{name}_mask.png")) > 0)
print(f"{same.mean():.4%} of pixels as in medseg's mask")
