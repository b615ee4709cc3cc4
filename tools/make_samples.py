#!/usr/bin/python3
"""Writes assets/samples/*.png: the first test image of each Fashion-MNIST class (28x28 gray),
read from Debian's dataset-fashion-mnist. Standard library only. Usage: tools/make_samples.py"""
import gzip, os, struct, zlib

D = "/usr/share/datasets/fashion-mnist"
NAMES = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]

def png_gray(path, w, h, pix):
    raw = b"".join(b"\x00" + pix[y * w:(y + 1) * w] for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)

imgs = gzip.open(f"{D}/t10k-images-idx3-ubyte.gz").read()
labs = gzip.open(f"{D}/t10k-labels-idx1-ubyte.gz").read()
assert struct.unpack(">I", imgs[:4])[0] == 0x803 and struct.unpack(">I", labs[:4])[0] == 0x801
n = struct.unpack(">I", imgs[4:8])[0]
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "assets", "samples")
os.makedirs(out, exist_ok=True)
seen = set()
for i in range(n):
    c = labs[8 + i]
    if c in seen:
        continue
    seen.add(c)
    png_gray(os.path.join(out, f"{c}-{NAMES[c]}-test{i}.png"), 28, 28, imgs[16 + i * 784:16 + (i + 1) * 784])
    if len(seen) == 10:
        break
