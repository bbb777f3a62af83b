"""Writes the fuzz seed corpus under fuzz/seeds/ (tiny files, committed).

Run from the repository root with Pillow installed (pip install pillow==11.1.0):
    python fuzz/make-seeds.py
"""

import io
import json
import pathlib
import shutil
import struct

from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent / "seeds"
W, H = 8, 6


def rgb():
    img = Image.new("RGB", (W, H))
    img.putdata([(x * 30, y * 40, 128) for y in range(H) for x in range(W)])
    return img


def mask(high=255):
    img = Image.new("L", (W, H))
    img.putdata([high if 2 <= x <= 5 and 2 <= y <= 4 else 0 for y in range(H) for x in range(W)])
    return img


def encode(img, fmt, **kw):
    out = io.BytesIO()
    img.save(out, fmt, **kw)
    return out.getvalue()


def main():
    if ROOT.exists():
        shutil.rmtree(ROOT)
    images = {
        "rgb.png": encode(rgb(), "PNG"),
        "grey16.png": encode(rgb().convert("L").point(lambda v: v * 256).convert("I;16"), "PNG"),
        "mask.png": encode(mask(), "PNG"),
        "labels01.png": encode(mask(1), "PNG"),
        "rgb.jpg": encode(rgb(), "JPEG", quality=80),
        "mask.tif": encode(mask(), "TIFF"),
        "rgb-lzw.tif": encode(rgb(), "TIFF", compression="tiff_lzw"),
        "mask.gif": encode(mask(), "GIF"),
        "rgb.bmp": encode(rgb(), "BMP"),
        "mask.pgm": encode(mask(), "PPM"),
        "rgb.ppm": encode(rgb(), "PPM"),
        "mask.pbm": encode(mask().convert("1"), "PPM"),
    }
    d = ROOT / "decode_image"
    d.mkdir(parents=True)
    for name, data in images.items():
        (d / name).write_bytes(data)

    # score_inputs: [name length][pred length u16][truth length u16] name pred truth fov
    d = ROOT / "score_inputs"
    d.mkdir(parents=True)
    prob = encode(rgb().convert("L"), "PNG")
    for name, truth, fov in [
        ("21_test", images["mask.png"], b""),
        ("21_manual1", images["mask.gif"], images["mask.tif"]),
        ("im0001.ah", images["labels01.png"], images["mask.pgm"]),
    ]:
        head = struct.pack("<BHH", len(name), len(prob), len(truth))
        (d / f"{name}.bin").write_bytes(head + name.encode() + prob + truth + fov)

    d = ROOT / "config"
    d.mkdir(parents=True)
    repo = ROOT.parent.parent
    for cfg in sorted((repo / "configs").rglob("*.toml")):
        if "extends" in cfg.read_text():
            continue
        (d / f"{cfg.parent.name}-{cfg.name}").write_bytes(cfg.read_bytes())

    # weights_header: a safetensors file with one 2x2 f32 tensor and medseg metadata.
    d = ROOT / "weights_header"
    d.mkdir(parents=True)
    # The metadata of weights/drive.safetensors, as `medseg info` prints it.
    meta = json.loads((repo / "fuzz" / "weights-meta.json").read_text())
    for fmt in (1, 2, 3):
        meta["format"] = fmt
        header = {
            "__metadata__": {"medseg": json.dumps(meta)},
            "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
        }
        text = json.dumps(header).encode()
        body = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
        (d / f"format{fmt}.safetensors").write_bytes(struct.pack("<Q", len(text)) + text + body)


if __name__ == "__main__":
    main()
