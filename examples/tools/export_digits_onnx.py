"""Trains a small convolutional network on scikit-learn's bundled 8x8 digits with PyTorch,
exports it to ONNX, and writes a client's held-out images: the start of examples/onnx/.

    venv/bin/pip install numpy onnx onnxruntime onnxscript torch scikit-learn
    venv/bin/python examples/tools/export_digits_onnx.py

writes
  examples/onnx/digits.onnx             the trained model (PyTorch's exporter)
  examples/onnx/digits_x.csv            100 held-out images, one per row, NCHW (1 x 8 x 8), 0-1
  examples/onnx/digits_labels.csv       their true digits
  examples/onnx/digits_expected.csv     onnxruntime's probabilities for them (for the test)

Then `tfec import examples/onnx/digits.onnx --out examples/onnx/digits` makes the program and
the owner's parameter files (examples/onnx/README.md has the whole flow).
"""

import os

import numpy as np
import onnxruntime as ort
import torch
from sklearn.datasets import load_digits
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "onnx")


class DigitsCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, 10)

    def logits(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)
        x = torch.relu(self.bn2(self.conv2(x)))
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    train, held = order[:-100], order[-100:]

    model = DigitsCnn()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    xt, yt = torch.from_numpy(x[train]), torch.from_numpy(y[train])
    for _ in range(30):
        model.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model.logits(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    model.eval()

    path = os.path.join(OUT, "digits.onnx")
    torch.onnx.export(
        model, (torch.from_numpy(x[:1]),), path, dynamo=False,
        input_names=["image"], output_names=["probabilities"],
        dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}},
    )
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (p,) = sess.run(None, {"image": x[held]})
    accuracy = (p.argmax(axis=1) == y[held]).mean()
    np.savetxt(os.path.join(OUT, "digits_x.csv"), x[held].reshape(100, -1), delimiter=",", fmt="%.6g")
    np.savetxt(os.path.join(OUT, "digits_labels.csv"), y[held], fmt="%d")
    np.savetxt(os.path.join(OUT, "digits_expected.csv"), p, delimiter=",", fmt="%.8g")
    print(f"{path}: {os.path.getsize(path)} bytes; held-out accuracy {accuracy:.2f} (onnxruntime)")


if __name__ == "__main__":
    main()
