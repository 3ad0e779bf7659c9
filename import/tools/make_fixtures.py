"""Makes the ONNX fixtures of tfe-import's tests and onnxruntime's outputs for them.

Each fixture is a directory import/tests/fixtures/NAME/ with
  model.onnx     the model, as its exporter writes it (PyTorch's two exporters, skl2onnx)
  input.csv      examples, one per row, the model's input flattened in C order
  expected.csv   onnxruntime's first floating-point output for them, one row per example
The tests import each model with tfe-import, run the program on secret shares and compare
with expected.csv; they need neither Python nor onnxruntime.

    python3 -m venv venv && venv/bin/pip install numpy onnx onnxruntime onnxscript torch \
        scikit-learn skl2onnx
    venv/bin/python import/tools/make_fixtures.py

Weights are random (seeded) or trained on scikit-learn's bundled data sets: nothing is
downloaded. Re-running rewrites the fixtures; PyTorch's exporters may name nodes differently
across versions, which the tests do not depend on.
"""

import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures")


def save(name, model_bytes, x):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(model_bytes)
    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    outs = sess.run(None, {inp.name: x.astype(np.float32)})
    y = None
    for o, meta in zip(outs, sess.get_outputs()):
        if isinstance(o, list):  # ZipMap: a list of {class: probability}
            keys = sorted(o[0].keys())
            y = np.array([[row[k] for k in keys] for row in o], dtype=np.float64)
            break
        if np.issubdtype(np.asarray(o).dtype, np.floating):
            y = np.asarray(o, dtype=np.float64)
            break
    assert y is not None, name
    n = x.shape[0]
    np.savetxt(os.path.join(d, "input.csv"), x.reshape(n, -1), delimiter=",", fmt="%.8g")
    np.savetxt(os.path.join(d, "expected.csv"), y.reshape(n, -1), delimiter=",", fmt="%.8g")
    print(f"{name}: {len(model_bytes)} bytes, input {x.shape}, output {y.shape}")


def export(model, x, dynamo, keep_batch_norm=False):
    model.eval()
    path = os.path.join(OUT, "_tmp.onnx")
    if dynamo:
        torch.onnx.export(
            model, (torch.from_numpy(x),), path, dynamo=True,
            input_names=["x"], output_names=["y"],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
        )
    else:
        torch.onnx.export(
            model, (torch.from_numpy(x),), path, dynamo=False,
            input_names=["x"], output_names=["y"],
            dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
            # Without constant folding the exporter leaves BatchNormalization nodes for the
            # importer to fold.
            do_constant_folding=not keep_batch_norm,
        )
    # Weights inside the one file (the new exporter may write them beside it).
    m = onnx.load(path)
    for f in os.listdir(OUT):
        if f.startswith("_tmp"):
            os.remove(os.path.join(OUT, f))
    return m.SerializeToString()


def randomize_bn(module, gen):
    """Running statistics and affine parameters far from the identity, so folding matters."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.3)
                m.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.2)


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(12, 16)
        self.fc2 = nn.Linear(16, 8)
        self.fc3 = nn.Linear(8, 4)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        h = torch.sigmoid(self.fc2(h))
        return torch.softmax(self.fc3(h), dim=1)


class LeNet(nn.Module):
    """LeNet-5's shape: ReLU and max-pooling, then tanh and average pooling."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.avg_pool2d(torch.tanh(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


class ResBlock(nn.Module):
    """A ResNet stem and basic block: convolutions with batch normalisation, a skip
    connection, strided max-pooling with padding, a strided 1×1 projection, global pooling;
    and a batch normalisation after the sum, which no layer before can absorb."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.conv3 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(8)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.down = nn.Conv2d(8, 16, 1, stride=2, bias=False)
        self.bn4 = nn.BatchNorm2d(16)
        self.bn_sum = nn.BatchNorm2d(8)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(x)))
        y = self.bn3(self.conv3(y))
        x = torch.relu(self.bn_sum(x + y))
        x = self.maxpool(x)
        x = self.bn4(self.down(x))
        x = nn.functional.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


class Mobile(nn.Module):
    """MobileNet's pieces: a strided convolution, a depthwise one, ReLU6 (Clip), a pointwise
    one, LeakyReLU, SiLU (x · sigmoid x), average pooling with padding not counted, two
    branches concatenated by channel, and a transpose to NHWC before the dense layer."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pw = nn.Conv2d(8, 12, 1)
        self.a = nn.Conv2d(12, 6, 1)
        self.b = nn.Conv2d(12, 6, 3, padding=1)
        self.fc = nn.Linear(4 * 4 * 12, 3)

    def forward(self, x):
        x = nn.functional.relu6(self.bn(self.conv(x)))
        x = nn.functional.relu6(self.dw(x))
        x = nn.functional.leaky_relu(self.pw(x), 0.1)
        x = nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
        x = torch.cat([self.a(x), self.b(x)], dim=1)
        x = x * torch.sigmoid(x)
        x = nn.functional.max_pool2d(x, 2)
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        return self.fc(x)


class Unsupported(nn.Module):
    """GELU and layer normalisation, which tfe does not translate."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.norm = nn.LayerNorm(8)
        self.fc2 = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc2(self.norm(nn.functional.gelu(self.fc1(x))))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    rng = np.random.default_rng(2)

    x = rng.normal(size=(8, 12)).astype(np.float32)
    save("mlp", export(Mlp(), x, dynamo=False), x)

    x = rng.uniform(0, 1, size=(4, 1, 28, 28)).astype(np.float32)
    save("lenet", export(LeNet(), x, dynamo=True), x)

    m = ResBlock()
    randomize_bn(m, gen)
    x = rng.normal(size=(3, 3, 16, 16)).astype(np.float32)
    save("resblock", export(m, x, dynamo=False, keep_batch_norm=True), x)

    m = Mobile()
    randomize_bn(m, gen)
    x = rng.normal(size=(3, 3, 16, 16)).astype(np.float32)
    save("mobile", export(m, x, dynamo=True), x)

    x = rng.normal(size=(2, 6)).astype(np.float32)
    save("unsupported", export(Unsupported(), x, dynamo=False), x)

    from skl2onnx import to_onnx
    from sklearn.datasets import load_digits, load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # The converters' defaults: a label output first, then the probabilities as a ZipMap.
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    lr = LogisticRegression(max_iter=1000).fit(X, y)
    save("sklearn_logreg", to_onnx(lr, X[:1]).SerializeToString(), X[::15])

    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)
    mlp = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(32, 16), max_iter=300, random_state=0)
    ).fit(X[:1500], y[:1500])
    save("sklearn_mlp", to_onnx(mlp, X[:1]).SerializeToString(), X[1500:1512])


if __name__ == "__main__":
    sys.exit(main())
