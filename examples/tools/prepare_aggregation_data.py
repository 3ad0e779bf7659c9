#!/usr/bin/env python3
"""Derives the five hospitals' data of examples/secure_aggregation.tfe from the logistic
regression example's training rows (examples/data/{alice,bob}/{alice,bob}_{x,y}.csv, themselves
derived from the Breast Cancer Wisconsin data set by prepare_logreg_data.py).

The 456 training rows, alice's then bob's, in order, are split into five consecutive parts of 91
rows (the last part takes the one row left over: 92). Part k goes to party hk.

Usage: python3 examples/tools/prepare_aggregation_data.py
Writes examples/data/h{1..5}/fl_{x,y}.csv. Standard library only.
"""
import os

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")


def rows(path):
    with open(path) as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
    return lines[0], lines[1:]


hx, xa = rows(os.path.join(root, "alice", "alice_x.csv"))
_, xb = rows(os.path.join(root, "bob", "bob_x.csv"))
hy, ya = rows(os.path.join(root, "alice", "alice_y.csv"))
_, yb = rows(os.path.join(root, "bob", "bob_y.csv"))
x, y = xa + xb, ya + yb
size = len(x) // 5
for k in range(5):
    end = len(x) if k == 4 else (k + 1) * size
    d = os.path.join(root, f"h{k + 1}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "fl_x.csv"), "w") as f:
        f.write("\n".join([hx] + x[k * size:end]) + "\n")
    with open(os.path.join(d, "fl_y.csv"), "w") as f:
        f.write("\n".join([hy] + y[k * size:end]) + "\n")
