"""Build src/unseen/models/voice_encoder.onnx from resemblyzer 0.1.4's speaker encoder.

resemblyzer ships `pretrained.pt` (Apache-2.0) in its wheel; this script loads it with torch
and writes the same network (3-layer LSTM over 40 mel bands, 256-d output, L2-normed) as ONNX,
then checks onnxruntime gives the same embeddings. Run once, by hand, where torch is installed:
  pip install torch==2.13.0 onnx onnxruntime && pip install --no-deps resemblyzer==0.1.4
  python scripts/export_voice_encoder.py
unseen itself needs neither torch nor resemblyzer: the audit runs the ONNX file.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from resemblyzer.voice_encoder import VoiceEncoder

OUT = Path(__file__).resolve().parents[1] / "src" / "unseen" / "models" / "voice_encoder.onnx"


def main() -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        enc = VoiceEncoder("cpu").eval()
    mels = torch.rand(3, 160, 40)
    torch.onnx.export(
        enc,
        (mels,),
        str(OUT),
        input_names=["mels"],
        output_names=["embeddings"],
        dynamic_axes={"mels": {0: "batch", 1: "frames"}, "embeddings": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    test = torch.rand(5, 160, 40)
    with torch.no_grad():
        want = enc(test).numpy()
    got = ort.InferenceSession(str(OUT), providers=["CPUExecutionProvider"]).run(None, {"mels": test.numpy()})[0]
    cos = float(np.min(np.sum(want * got, axis=1)))
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.1f} MB); lowest cosine to torch's embeddings: {cos:.6f}")


if __name__ == "__main__":
    main()
