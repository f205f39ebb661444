"""Studio's sample experiment: a small synthetic training run that logs every metric kind.

It needs only numpy (which Studio brings) and finishes in a few seconds.
"""

import json
import math
import os
import struct
import time
import zlib

import numpy as np

from studio.sdk import Run

run = Run.get_context()
rng = np.random.default_rng(7)
epochs, steps_per_epoch = 12, 250

print("Training a synthetic model for", epochs, "epochs", flush=True)
run.log("learning_rate", 0.01, description="initial learning rate")
run.tag("model", "tiny-mlp")
run.tag("dataset", "synthetic")

step = 0
history = []
for epoch in range(1, epochs + 1):
    for _ in range(steps_per_epoch):
        loss = 2.0 * math.exp(-step / 900) + 0.05 * rng.standard_normal() + 0.1
        run.log("loss", float(loss), step=step)
        step += 1
    accuracy = 1 - 0.9 * math.exp(-epoch / 4) + 0.01 * rng.standard_normal()
    val_loss = 1.8 * math.exp(-epoch / 5) + 0.15
    run.log("accuracy", float(accuracy), step=epoch)
    run.log("val_loss", float(val_loss), step=epoch)
    run.log_row("epochs", epoch=epoch, accuracy=round(float(accuracy), 4), val_loss=round(float(val_loss), 4))
    history.append({"epoch": epoch, "accuracy": float(accuracy), "val_loss": float(val_loss)})
    print(f"epoch {epoch:2d}  accuracy {accuracy:.3f}  val_loss {val_loss:.3f}", flush=True)
    time.sleep(0.15)

run.log("optimizer", "adam")
run.log_list("layer_sizes", [784, 256, 64, 10])
classes = ["cat", "dog", "bird"]
run.log_table("per_class", {"class": classes, "precision": [0.91, 0.88, 0.79], "recall": [0.89, 0.9, 0.75]})


def write_png(path: str, pixels: np.ndarray) -> None:
    """A minimal RGB PNG writer, so the sample needs no imaging library."""
    height, width, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].astype(np.uint8).tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


matrix = np.array([[48, 3, 2], [4, 45, 1], [6, 5, 39]])
scale = (matrix / matrix.max() * 255).astype(np.uint8)
image = np.kron(scale, np.ones((40, 40), dtype=np.uint8))
rgb = np.stack([255 - image, 255 - image // 2, np.full_like(image, 255)], axis=-1)
os.makedirs("outputs", exist_ok=True)
write_png("outputs/confusion_matrix.png", rgb)
run.log_image("confusion_matrix", path="outputs/confusion_matrix.png")

with open("outputs/history.csv", "w") as f:
    f.write("epoch,accuracy,val_loss\n")
    for row in history:
        f.write(f"{row['epoch']},{row['accuracy']:.4f},{row['val_loss']:.4f}\n")
with open("outputs/metrics.json", "w") as f:
    json.dump({"final_accuracy": history[-1]["accuracy"], "epochs": epochs}, f, indent=2)
with open("outputs/README.txt", "w") as f:
    f.write("Outputs of Studio's sample experiment: history.csv, metrics.json, confusion_matrix.png\n")
run.log("final_accuracy", float(history[-1]["accuracy"]))
print("done", flush=True)
