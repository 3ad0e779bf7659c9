#!/usr/bin/env python3
"""Derives the data of examples/logreg.tfe from the Breast Cancer Wisconsin (Diagnostic) data set.

Source: shared/data/breast_cancer.csv (UCI ML repository, CC BY 4.0; as shipped in scikit-learn
1.9.1). 569 rows of 30 features and a label (0 malignant, 1 benign).

Each feature is standardised (z-score, with the mean and standard deviation of the whole data
set: public normalisation constants the hospitals agree on beforehand), so fixed-point values
stay small. Every fifth row (rows 4, 9, 14, ...: 113 rows) is held out as a test set that no
party trains on, written to examples/data/heldout/; of the other 456 rows, in order, the first 228
are alice's and the other 228 bob's.

Usage: python3 examples/tools/prepare_logreg_data.py path/to/breast_cancer.csv
Writes examples/data/{alice,bob}/{alice,bob}_{x,y}.csv. Standard library only.
"""
import csv
import math
import os
import sys

src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../../shared/data/breast_cancer.csv")
with open(src) as f:
    rows = list(csv.reader(f))
header, rows = rows[0], [[float(v) for v in r] for r in rows[1:]]
n_features = len(header) - 1
cols = list(zip(*rows))
means = [sum(c) / len(c) for c in cols[:n_features]]
stds = [math.sqrt(sum((v - m) ** 2 for v in c) / len(c)) for c, m in zip(cols[:n_features], means)]
x = [[round((r[j] - means[j]) / stds[j], 6) for j in range(n_features)] for r in rows]
y = [int(r[-1]) for r in rows]

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
held = [i for i in range(len(rows)) if i % 5 == 4]
train = [i for i in range(len(rows)) if i % 5 != 4]
half = (len(train) + 1) // 2
for party, idx, stem in [("alice", train[:half], "alice"), ("bob", train[half:], "bob"), ("heldout", held, "test")]:
    os.makedirs(os.path.join(root, party), exist_ok=True)
    with open(os.path.join(root, party, f"{stem}_x.csv"), "w") as f:
        f.write(",".join(header[:n_features]) + "\n")
        for i in idx:
            f.write(",".join(repr(v) for v in x[i]) + "\n")
    with open(os.path.join(root, party, f"{stem}_y.csv"), "w") as f:
        f.write("label\n")
        for i in idx:
            f.write(f"{y[i]}\n")
print(f"wrote {half} rows for alice, {len(train) - half} for bob and {len(held)} held out under {os.path.normpath(root)}")
