"""Makes ResNet-50 v1 as ONNX with random weights, one 224x224 image, and onnxruntime's logits,
for `bench resnet50` (nothing is downloaded; nothing here is committed).

    venv/bin/pip install numpy onnx onnxruntime onnxscript torch torchvision
    venv/bin/python bench/tools/resnet50.py DIR

writes DIR/resnet50.onnx, DIR/input.csv (150,528 values: the image normalised as torchvision
does, NCHW in C order) and DIR/expected.csv (onnxruntime's 1,000 logits).

The weights are torchvision's initialisation (`resnet50(weights=None)`, seeded). Its batch
normalisations start as the identity, and through 16 residual blocks that lets activations grow
by orders of magnitude, which no trained network does; so the running statistics are first
calibrated on 16 random images like the one classified (one pass in training mode with a cumulative average), as
training would have left them: every batch normalisation's output then has mean 0 and variance
about 1. PyTorch's exporter folds them into the convolutions.
"""

import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torchvision


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None)
    # Calibrate the batch normalisations' statistics (see above).
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(1, 3, 1, 1)
    rng = np.random.default_rng(0)

    def images(n):
        """Random pixels in [0, 1], normalised as torchvision's ImageNet models expect."""
        return (rng.uniform(0, 1, size=(n, 3, 224, 224)).astype(np.float32) - mean) / std

    model.train()
    with torch.no_grad():
        model(torch.from_numpy(images(16)))
    model.eval()
    x = images(1)

    path = os.path.join(out, "resnet50.onnx")
    torch.onnx.export(
        model, (torch.from_numpy(x),), path, dynamo=False,
        input_names=["image"], output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
    )
    onnx.save_model(onnx.load(path), path)  # weights inside the one file
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (logits,) = sess.run(None, {"image": x})
    np.savetxt(os.path.join(out, "input.csv"), x.reshape(1, -1), delimiter=",", fmt="%.8g")
    np.savetxt(os.path.join(out, "expected.csv"), logits.reshape(1, -1), delimiter=",", fmt="%.8g")
    print(f"{path}: {os.path.getsize(path)} bytes; logits in [{logits.min():.3f}, {logits.max():.3f}]")


if __name__ == "__main__":
    main()
