#!/usr/bin/env python3
"""Writes the seed corpora of the host's fuzz targets (Fuzz/Corpus/<target>/):
recipe, png, coco (and the jpeg seeds that need no encoder).

- recipe: the repository's recipes with their bases as one input (parts cut
  at lines `%%%`: a.yaml, then b.yaml, c.yaml, d.yaml; see RecipeFuzzing),
  plus tags, overrides, aliases, a diamond and a cycle.
- png: small PNGs written here with zlib (gray 1/2/8/16-bit, RGB, RGBA,
  palette with transparency, gray+alpha, a 16-bit label map) and a label map
  from the shared fixtures.
- coco: instances and results files with boxes, polygons and RLE masks, and
  the small COCO fixtures.
- jpeg: small JPEGs the host's own encoder wrote (kept in the repository;
  this script does not make them).

    python3 Fuzz/make-host-seeds.py [SHARED]    # SHARED: the fixtures' parent folder
"""

import json
import os
import shutil
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def write(target, name, data):
    folder = os.path.join(HERE, "Corpus", target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    assert len(data) <= 8192, (name, len(data))
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png(width, height, depth, color, rows, extra=b""):
    header = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def png_seeds(shared):
    w, h = 6, 4
    write("png", "gray8.png", png(w, h, 8, 0, [bytes((x * 40 + y) % 256 for x in range(w)) for y in range(h)]))
    write("png", "gray1.png", png(16, 2, 1, 0, [b"\xa5\x5a", b"\x0f\xf0"]))
    write("png", "gray2.png", png(4, 2, 2, 0, [b"\x1b", b"\xe4"]))
    write("png", "gray16.png", png(w, h, 16, 0, [b"".join(struct.pack(">H", x * 1000 + y) for x in range(w)) for y in range(h)]))
    write("png", "labels16.png", png(w, h, 16, 0, [b"".join(struct.pack(">H", (x + y) % 5) for x in range(w)) for y in range(h)]))
    write("png", "rgb.png", png(w, h, 8, 2, [bytes((x * 30 + c * 80 + y) % 256 for x in range(w) for c in range(3)) for y in range(h)]))
    write("png", "rgba.png", png(w, h, 8, 6, [bytes((x * 30 + c * 60 + y) % 256 for x in range(w) for c in range(4)) for y in range(h)]))
    write("png", "gray-alpha.png", png(w, h, 8, 4, [bytes((x * 50 + c * 90) % 256 for x in range(w) for c in range(2)) for y in range(h)]))
    palette = chunk(b"PLTE", bytes([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9])) + chunk(b"tRNS", bytes([255, 128]))
    write("png", "palette.png", png(w, h, 8, 3, [bytes((x + y) % 4 for x in range(w)) for y in range(h)], palette))
    write("png", "rgb-trns.png", png(2, 2, 8, 2, [b"\x01\x02\x03\x04\x05\x06"] * 2, chunk(b"tRNS", b"\x00\x01\x00\x02\x00\x03")))
    fixture = os.path.join(shared, "fixtures", "eval", "seg", "gt", "000.png")
    if os.path.exists(fixture):
        shutil.copy(fixture, os.path.join(HERE, "Corpus", "png", "labels-fixture.png"))


def rle_string(counts):
    """pycocotools' rleToString: LEB128-like, 5 bits a character, deltas after the second count."""
    out = []
    for i, count in enumerate(counts):
        x = count - counts[i - 2] if i > 2 else count
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def coco_seeds(shared):
    instances = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 20, "height": 10}, {"id": 2, "width": 8, "height": 8}],
        "categories": [{"id": 1, "name": "cat"}, {"id": 3, "name": "dog"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 5, 4], "area": 20, "iscrowd": 0,
             "segmentation": [[1, 2, 6, 2, 6, 6, 1, 6]]},
            {"id": 2, "image_id": 1, "category_id": 3, "bbox": [0, 0, 4, 4], "area": 9, "iscrowd": 1,
             "segmentation": {"size": [10, 20], "counts": [5, 3, 7, 3, 182]}},
            {"id": 3, "image_id": 2, "category_id": 1, "bbox": [2, 2, 3, 3], "area": 9, "iscrowd": False,
             "segmentation": {"size": [8, 8], "counts": rle_string([18, 4, 4, 4, 34])}},
        ],
    }
    write("coco", "instances.json", json.dumps(instances))
    results = [
        {"image_id": 1, "category_id": 1, "bbox": [1, 2, 5, 4], "score": 0.9},
        {"image_id": 2, "category_id": 3, "bbox": [0.5, 0.5, 2, 2], "score": 0.25,
         "segmentation": {"size": [8, 8], "counts": rle_string([18, 4, 4, 4, 34])}},
    ]
    write("coco", "results-boxes.json", json.dumps(results))
    write("coco", "results-masks.json", json.dumps([{"image_id": 2, "category_id": 1, "score": 0.5,
                                                     "segmentation": {"size": [8, 8], "counts": rle_string([10, 20, 34])}}]))
    for name in ["coco/gt.json", "coco/dets.json", "segm/gt.json", "segm/dets.json"]:
        path = os.path.join(shared, "fixtures", "eval", name)
        if os.path.exists(path) and os.path.getsize(path) <= 8192:
            shutil.copy(path, os.path.join(HERE, "Corpus", "coco", "fixture-" + name.replace("/", "-")))


def recipe_seeds():
    def read(path):
        with open(os.path.join(ROOT, path)) as f:
            return f.read()

    def joined(*parts):
        return "\n%%%\n".join(parts)

    quick = read("recipes/quickstart/pretrain.yaml").replace("../base/pretrain.yaml", "b.yaml").replace("model.yaml", "c.yaml")
    write("recipe", "quickstart-pretrain.yaml", joined(quick, read("recipes/base/pretrain.yaml"), read("recipes/quickstart/model.yaml")))
    for task in ["classify", "detect", "segment"]:
        text = read(f"recipes/base/{task}.yaml")
        write("recipe", f"base-{task}.yaml", text)
    write("recipe", "swin-tiny.yaml", read("recipes/base/swin-tiny.yaml"))
    write("recipe", "tags.yaml", joined(
        "base: b.yaml\n#set optim.base_lr=2e-3\n#set model.backbone.depths=[1,2]\ndata: !replace {img_size: 32}\n"
        "log: !delete\nmodel:\n  backbone: {name: toy, embed_dim: 8}\n",
        "task: pretrain\ndata: {img_size: 64, batch_size: 4}\nlog: {every: 3}\noptim: {base_lr: 1e-3}\n"))
    write("recipe", "aliases.yaml", "defaults: &d {embed_dim: 16, depths: [1, 1]}\nmodel:\n  backbone:\n    <<: *d\n    name: toy\n"
          "  neck: {name: toy, <<: *d}\n")
    write("recipe", "diamond.yaml", joined("base: [b.yaml, b.yaml]\n", "base: [c.yaml, c.yaml]\n", "base: [d.yaml, d.yaml]\n",
                                          "seed: 3\n"))
    write("recipe", "cycle.yaml", joined("base: b.yaml\n", "base: c.yaml\n", "base: a.yaml\n"))
    write("recipe", "components.yaml", "task: classify\nmodel:\n  backbone: {name: toy, embed_dim: 4097, depths: [0], "
          "activation: tanh}\n  head: {name: nope}\n  loss: 3\n")


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else "/work/shared"
    png_seeds(shared)
    coco_seeds(shared)
    recipe_seeds()


if __name__ == "__main__":
    main()
