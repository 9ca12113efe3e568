"""Run demucs' own code in a Python that has it installed (never shipped with the pack): build a random-weight HTDemucs
with their class, write it in the format demucs 4.1 downloads from the Hugging Face hub (.safetensors: state dict +
JSON metadata klass/args/kwargs), check that demucs' own hf.load_safetensors_model reads it back, and separate a mix
the way their Separator does (whole-song normalisation, apply_model: split, overlap, shifts). Used by
tests/test_htdemucs_reference.py; this file holds no demucs code.

    python tests/demucs_reference.py CONFIG.json OUT.safetensors MIX.npy OUT.npy OVERLAP SHIFTS
CONFIG.json: HTDemucs keywords (segment as [numerator, denominator]), "seed" for torch's generator.
"""
import json
import random
import sys
from fractions import Fraction

import numpy as np
import torch
from safetensors.torch import save_file

from demucs.apply import apply_model
from demucs.hf import load_safetensors_model
from demucs.htdemucs import HTDemucs

config_path, out_model, mix_path, out_path, overlap, shifts = sys.argv[1:7]
kwargs = json.loads(open(config_path).read())
seed = kwargs.pop("seed")
kwargs["segment"] = Fraction(*kwargs["segment"])
torch.manual_seed(seed)
model = HTDemucs(**kwargs).eval()


def encoded(value):
    if isinstance(value, Fraction):
        return {"_type": "fraction", "numerator": value.numerator, "denominator": value.denominator}
    return value


metadata = {"klass": "demucs.htdemucs.HTDemucs", "args": "[]",
            "kwargs": json.dumps({key: encoded(value) for key, value in kwargs.items()})}
state = {key: value.detach().half().contiguous() for key, value in model.state_dict().items()}
save_file(state, out_model, metadata=metadata)
model = load_safetensors_model(out_model).eval()  # their reader: the file is in their format, float16 weights
assert isinstance(model, HTDemucs)

wav = torch.from_numpy(np.load(mix_path))
reference = wav.mean(0)
mean, std = reference.mean(), reference.std() + 1e-8
random.seed(0)  # their shifts draw from Python's random module
with torch.no_grad():
    out = apply_model(model, ((wav - mean) / std)[None], shifts=int(shifts), split=True, overlap=float(overlap),
                      progress=False)
np.save(out_path, (out * std + mean)[0].numpy())
print("demucs reference:", tuple(out.shape), sum(p.numel() for p in model.parameters()), "parameters")
