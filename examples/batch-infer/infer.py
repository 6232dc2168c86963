"""A stand-in model: a fixed random projection scores bag-of-characters features of each input line."""

import os
import sys

import numpy as np

src, dst = sys.argv[1], sys.argv[2]
print(f"accelerator {os.environ['SUANLI_ACCELERATOR_MODEL']} ids {os.environ['CUDA_VISIBLE_DEVICES']}")
weights = np.random.default_rng(0).normal(size=128)
rows = []
with open(src, encoding="utf-8") as fh:
    for line in fh:
        text = line.strip()
        if not text:
            continue
        features = np.bincount([ord(c) % 128 for c in text], minlength=128) / max(len(text), 1)
        score = 1 / (1 + np.exp(-features @ weights))
        rows.append((text, score))
with open(dst, "w", encoding="utf-8") as fh:
    fh.write("text,score\n")
    for text, score in rows:
        fh.write(f"\"{text}\",{score:.4f}\n")
for text, score in rows:
    print(f"{score:.4f}  {text}")
print(f"scored {len(rows)} inputs -> {dst}")
