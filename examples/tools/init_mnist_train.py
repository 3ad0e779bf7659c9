#!/usr/bin/env python3
"""Writes the initial weights of examples/mnist_train.tfe (network A, 784-128-128-10).

The analyst, who receives the trained model, also supplies the starting point: He-uniform weights
(limit sqrt(6 / fan_in)), numpy seed 1, rounded to 6 significant digits; biases start at zero in
the program. The plaintext reference in tfec/tests/mnist.rs starts from the same files.

Usage: python3 examples/tools/init_mnist_train.py
Writes examples/data/analyst/mnist_init_w{1,2,3}.csv.gz.
"""
import gzip
import io
import os

import numpy as np

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "analyst")
os.makedirs(root, exist_ok=True)
rng = np.random.default_rng(1)
for name, (fan_in, fan_out) in {"w1": (784, 128), "w2": (128, 128), "w3": (128, 10)}.items():
    limit = np.sqrt(6.0 / fan_in)
    w = rng.uniform(-limit, limit, size=(fan_in, fan_out))
    text = io.StringIO()
    np.savetxt(text, w, fmt="%.6g", delimiter=",")
    with open(os.path.join(root, f"mnist_init_{name}.csv.gz"), "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
            gz.write(text.getvalue().encode())
