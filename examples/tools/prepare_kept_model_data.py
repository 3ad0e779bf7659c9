#!/usr/bin/env python3
"""Derives the data of examples/keep_model.tfe and examples/score_later.tfe from UCI's digits.

Source: shared/data/digits.csv (Optical Recognition of Handwritten Digits, UCI ML repository,
CC BY 4.0; as shipped in scikit-learn 1.9.1): 1797 images of 8x8 pixels (0-16) and a label.

The rows are shuffled (Python's `random`, seed 0) and each pixel standardised (z-score over the
whole data set). The
first 800 rows are hospital alice's, the next 768 hospital bob's (49 batches of 32 in all), the
next 200 the clinic's patients (images only; their labels go to data/heldout/, which only the
test that checks accuracy reads). Labels are one-hot. The network's starting weights (alice
proposes them; the model is 64-16-10) are uniform in +-sqrt(6 / (fan_in + fan_out)) (Glorot),
seed 1.

Usage: python3 examples/tools/prepare_kept_model_data.py [path/to/digits.csv]
Writes examples/data/{alice,bob}/digits_{x,y}.csv, examples/data/alice/digits_w{1,2}_init.csv,
examples/data/clinic/digits_images.csv and examples/data/heldout/digits_clinic_y.csv.
Standard library only.
"""
import csv
import math
import os
import random
import sys

src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../../shared/data/digits.csv")
with open(src) as f:
    rows = list(csv.reader(f))[1:]
random.Random(0).shuffle(rows)
pixels = [[int(v) for v in r[:64]] for r in rows]
# Each pixel standardised with the whole data set's mean and deviation (public constants the
# hospitals agree on beforehand; a pixel that is always 0 stays 0), so that one pass of SGD
# learns (f64, same algorithm and start: 79% of the clinic's 200 digits).
means = [sum(c) / len(c) for c in zip(*pixels)]
devs = [math.sqrt(sum((v - m) ** 2 for v in c) / len(c)) for c, m in zip(zip(*pixels), means)]
x = [[round((v - m) / d, 4) if d > 0 else 0 for v, m, d in zip(r, means, devs)] for r in pixels]
y = [int(r[64]) for r in rows]

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")


def write(party, name, table):
    os.makedirs(os.path.join(root, party), exist_ok=True)
    with open(os.path.join(root, party, name), "w") as f:
        for row in table:
            f.write(",".join(f"{v:g}" for v in row) + "\n")


def one_hot(labels):
    return [[1 if k == label else 0 for k in range(10)] for label in labels]


write("alice", "digits_x.csv", x[:800])
write("alice", "digits_y.csv", one_hot(y[:800]))
write("bob", "digits_x.csv", x[800:1568])
write("bob", "digits_y.csv", one_hot(y[800:1568]))
write("clinic", "digits_images.csv", x[1568:1768])
write("heldout", "digits_clinic_y.csv", [[v] for v in y[1568:1768]])

r = random.Random(1)
for name, (fan_in, fan_out) in [("digits_w1_init.csv", (64, 16)), ("digits_w2_init.csv", (16, 10))]:
    a = math.sqrt(6 / (fan_in + fan_out))
    write("alice", name, [[round(r.uniform(-a, a), 6) for _ in range(fan_out)] for _ in range(fan_in)])
