#!/usr/bin/env python3
"""A stand-in for an 8-megapixel fundus photograph (3504x2336, the size of HRF's): DRIVE test
image 01 enlarged (bicubic) to 2336 rows and centred on a black 3504-wide canvas, as such cameras
frame the disc. For timing `medseg predict --pretrained drive` on large images (docs/scale.md).

    python3 scripts/make-large-photo.py DATA_ROOT OUT.png    (pillow, tools/requirements.txt)
"""
import sys

from PIL import Image


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: make-large-photo.py DATA_ROOT OUT.png")
    image = Image.open(f"{sys.argv[1]}/DRIVE/test/images/01_test.tif").convert("RGB")
    height = 2336
    width = round(image.width * height / image.height)
    canvas = Image.new("RGB", (3504, height))
    canvas.paste(image.resize((width, height), Image.BICUBIC), ((3504 - width) // 2, 0))
    canvas.save(sys.argv[2])


if __name__ == "__main__":
    main()
