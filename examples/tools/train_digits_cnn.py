#!/usr/bin/env python3
"""Trains the model owner's small CNN on the 8x8 digits, in plaintext (float64 numpy).

Source: shared/data/digits.csv: Optical Recognition of Handwritten Digits (UCI ML repository,
CC BY 4.0) as shipped in scikit-learn 1.9.1 (`load_digits`). A header row, then 1797 rows of 64
pixels (8x8, row-major, ints 0-16) and a label 0-9; the labels cycle through the classes, so the
file order needs no shuffling. Rows 0..1500 train, rows 1500..1797 (297 rows) are the test set,
which is also the client's data. The derived files are under the same licence (CC BY 4.0).

Layout (the secure programs must use exactly this): an image is flattened in NHWC order, index
(y*8 + x)*C + c (C = 1 for the input, so the CSV order). Model, with x = pixels/16:
  conv 3x3, 8 filters, stride 1, no padding, as im2col: for each image, for oy in 0..6, for ox
  in 0..6 (image-major, then oy, then ox), a patch row of 9*C values whose column (ky*3 + kx)*C + c
  holds input pixel (oy+ky, ox+kx, c); conv output row = patch @ k1 + b1, k1 [9*C x 8] -> 6x6x8
  -> relu -> max-pool 2x2 stride 2 -> 3x3x8 -> flatten NHWC: index (oy*3 + ox)*8 + f (72 values)
  -> logits = flat @ w2 + b2, w2 [72 x 10] -> prediction = argmax(logits).
Training: He-uniform initialisation (numpy seed 0), zero biases; softmax cross-entropy; Adam
(lr 0.01, betas 0.9/0.999) on minibatches of 32 rows in file order; 30 epochs.

The weights are written with 6 significant digits, then reloaded from the CSVs; the accuracy
with the rounded weights is printed and recorded in examples/tools/README-models.md.
Writes (no header rows):
  examples/data/owner/digits_k1.csv [9 x 8], digits_b1.csv [1 x 8], digits_w2.csv [72 x 10],
  digits_b2.csv [1 x 10]
  examples/data/client/digits_x.csv: the 297 test rows, 64 pixel ints 0-16 each, as in the source
  examples/data/heldout/digits_y.csv: their labels, one int per row
  examples/data/heldout/digits_pred_plain.csv: the plaintext model's prediction for each client
  row (one int per row), from the rounded weights

Usage: python3 examples/tools/train_digits_cnn.py [path/to/digits.csv]
Needs numpy. Deterministic; runs in a few seconds.
"""
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "../../../shared/data/digits.csv")
data = np.loadtxt(src, delimiter=",", skiprows=1, dtype=np.int64)
assert data.shape == (1797, 65), data.shape
pixels, labels = data[:, :64], data[:, 64]
x_all = pixels.astype(np.float64) / 16.0
x_train, y_train = x_all[:1500], labels[:1500]
x_test, y_test = x_all[1500:], labels[1500:]

H = W = 8
C, F, KS = 1, 8, 3
OH, OW = H - KS + 1, W - KS + 1  # 6, 6
PH, PW = OH // 2, OW // 2  # 3, 3
EPOCHS, BATCH, LR, BETA1, BETA2, EPS = 30, 32, 0.01, 0.9, 0.999, 1e-8

# PATCH[(oy*OW + ox), (ky*KS + kx)*C + c] = flat input index ((oy+ky)*W + (ox+kx))*C + c
PATCH = np.array([[((oy + ky) * W + (ox + kx)) * C + c for ky in range(KS) for kx in range(KS) for c in range(C)]
                  for oy in range(OH) for ox in range(OW)])


def forward(ps, x):
    k1, b1, w2, b2 = ps
    n = len(x)
    patches = x[:, PATCH]  # [n, 36, 9C]
    conv = patches @ k1 + b1  # [n, 36, F], row (oy*6 + ox)
    act = np.maximum(conv, 0.0)
    blocks = act.reshape(n, PH, 2, PW, 2, F)  # oy = 2*py + dy, ox = 2*px + dx
    pooled = blocks.max(axis=(2, 4))  # [n, 3, 3, F]
    flat = pooled.reshape(n, PH * PW * F)  # index (py*3 + px)*F + f
    logits = flat @ w2 + b2
    return patches, conv, blocks, pooled, flat, logits


def predict(ps, x):
    return np.argmax(forward(ps, x)[-1], axis=1)


def grads(ps, x, t):
    k1, b1, w2, b2 = ps
    n = len(x)
    patches, conv, blocks, pooled, flat, logits = forward(ps, x)
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.sum(t * np.log(p + 1e-300))
    d_logits = (p - t) / n
    g_w2, g_b2 = flat.T @ d_logits, d_logits.sum(axis=0)
    d_pooled = (d_logits @ w2.T).reshape(n, PH, 1, PW, 1, F)
    mask = blocks == pooled.reshape(n, PH, 1, PW, 1, F)
    mask = mask / mask.sum(axis=(2, 4), keepdims=True)  # ties share the gradient
    d_act = (mask * d_pooled).reshape(n, OH * OW, F)
    d_conv = d_act * (conv > 0)
    g_k1 = np.einsum("npi,npf->if", patches, d_conv)
    g_b1 = d_conv.sum(axis=(0, 1))
    return loss, [g_k1, g_b1, g_w2, g_b2]


rng = np.random.default_rng(0)
lim1, lim2 = np.sqrt(6.0 / (KS * KS * C)), np.sqrt(6.0 / (PH * PW * F))
params = [rng.uniform(-lim1, lim1, (KS * KS * C, F)), np.zeros(F),
          rng.uniform(-lim2, lim2, (PH * PW * F, 10)), np.zeros(10)]
m = [np.zeros_like(q) for q in params]
v = [np.zeros_like(q) for q in params]
onehot = np.eye(10)[y_train]
step = 0
for epoch in range(EPOCHS):
    total = 0.0
    for start in range(0, len(x_train), BATCH):
        loss, gs = grads(params, x_train[start:start + BATCH], onehot[start:start + BATCH])
        total += loss
        step += 1
        for i, g in enumerate(gs):
            m[i] = BETA1 * m[i] + (1 - BETA1) * g
            v[i] = BETA2 * v[i] + (1 - BETA2) * g * g
            params[i] = params[i] - LR * (m[i] / (1 - BETA1 ** step)) / (np.sqrt(v[i] / (1 - BETA2 ** step)) + EPS)
    if (epoch + 1) % 5 == 0 or epoch == 0:
        print(f"epoch {epoch + 1}: loss {total / len(x_train):.4f}, "
              f"train acc {np.mean(predict(params, x_train) == y_train):.4f}, "
              f"test acc {np.mean(predict(params, x_test) == y_test):.4f}")

root = os.path.normpath(os.path.join(HERE, "..", "data"))
for d in ("owner", "client", "heldout"):
    os.makedirs(os.path.join(root, d), exist_ok=True)
names = ["digits_k1", "digits_b1", "digits_w2", "digits_b2"]
for name, arr in zip(names, params):
    arr = arr if arr.ndim == 2 else arr.reshape(1, -1)
    np.savetxt(os.path.join(root, "owner", name + ".csv"), arr, fmt="%.6g", delimiter=",")
    print(f"wrote examples/data/owner/{name}.csv: {arr.shape[0]} x {arr.shape[1]}")


def write_ints(rel, rows):
    rows = np.asarray(rows)
    rows = rows[:, None] if rows.ndim == 1 else rows
    with open(os.path.join(root, rel), "w") as f:
        f.writelines(",".join(str(int(c)) for c in r) + "\n" for r in rows)
    print(f"wrote examples/data/{rel}: {rows.shape[0]} x {rows.shape[1]}")


write_ints("client/digits_x.csv", pixels[1500:])
write_ints("heldout/digits_y.csv", y_test)

# Reload the rounded weights and measure with them.
loaded = [np.loadtxt(os.path.join(root, "owner", n + ".csv"), delimiter=",", ndmin=2) for n in names]
loaded[1], loaded[3] = loaded[1][0], loaded[3][0]
assert [q.shape for q in loaded] == [(9, 8), (8,), (72, 10), (10,)]
pred = predict(loaded, x_test)
write_ints("heldout/digits_pred_plain.csv", pred)
train_acc = float(np.mean(predict(loaded, x_train) == y_train))
test_acc = float(np.mean(pred == y_test))
max_abs = max(float(np.abs(q).max()) for q in loaded)
print(f"rounded weights (largest |value| {max_abs:.3f}): train acc {train_acc:.4f} (1500 rows), "
      f"test acc {test_acc:.4f} (297 rows = the client's rows)")

section = f"""## Digits CNN (`examples/data/owner/digits_*.csv`)

- Data: `shared/data/digits.csv` (UCI Optical Recognition of Handwritten Digits, CC BY 4.0, via
  scikit-learn 1.9.1), 8x8 pixels 0-16; rows 0..1500 train, rows 1500..1797 (297) test, which are
  also the client's rows (`examples/data/client/digits_x.csv`, labels `examples/data/heldout/digits_y.csv`).
- Architecture: input `x = pixels / 16` (NHWC, index `(y*8 + x)*C + c`, C = 1); conv 3x3, 8
  filters, stride 1, no padding, as im2col (patch column `(ky*3 + kx)*C + c`, `k1` [9 x 8], + `b1`)
  -> 6x6x8 -> ReLU -> max-pool 2x2 stride 2 -> 3x3x8 -> flatten NHWC (index `(oy*3 + ox)*8 + f`,
  72) -> dense 72->10 (`w2`, `b2`) -> argmax.
- Training: float64 numpy, He-uniform init (seed 0), softmax cross-entropy, Adam lr {LR} (betas
  {BETA1}/{BETA2}), minibatch {BATCH} in file order, {EPOCHS} epochs.
- Accuracy with the weights as written (6 significant digits, largest |value| {max_abs:.3f}):
  train {train_acc:.2%} (1500 rows), test {test_acc:.2%} (297 rows). The last 297 rows of the
  file are harder than a random split would be: on the same split, measured once, a softmax
  regression on the raw pixels gets 91.2% and 1-nearest-neighbour 94.6%.
- Plaintext predictions for the client rows: `examples/data/heldout/digits_pred_plain.csv`.
- Regenerate: `python3 examples/tools/train_digits_cnn.py`.
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


update_readme("digits-cnn", section)
