"""Run the beat_this package's own code (a Python with ``beat_this`` installed, never the pack's): build a random
Beat This! network with their class, save it as a Lightning-style checkpoint the way their published files are laid
out, and write what their inference makes of a song (their log-mel front end, their chunked inference, their
minimal post-processing). Used by tests/test_beat_tracking_reference.py; this file holds no beat_this code.

    python tests/beat_this_reference.py SONG.npy SAMPLE_RATE TRANSFORMER_DIM OUT.ckpt OUT.npz
"""
import sys

import numpy as np
import torch
from beat_this.inference import Audio2Frames, load_model  # noqa: F401 - load_model: their checkpoint reader
from beat_this.model.beat_tracker import BeatThis
from beat_this.model.postprocessor import Postprocessor

song_path, sample_rate, width, out_ckpt, out_npz = sys.argv[1:6]
torch.manual_seed(7)
network = BeatThis(transformer_dim=int(width)).eval()
with torch.no_grad():  # batch norms with statistics of their own, so the test sees them used
    for module in network.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.running_mean.normal_(0.0, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.normal_(1.0, 0.2)
            module.bias.normal_(0.0, 0.2)
hyper = {"spect_dim": 128, "fps": 50, "transformer_dim": int(width), "ff_mult": 4, "n_layers": 6, "stem_dim": 32,
         "dropout": {"frontend": 0.1, "transformer": 0.2}, "lr": 0.0008, "weight_decay": 0.01,
         "pos_weights": {"beat": 1, "downbeat": 1}, "head_dim": 32, "loss_type": "shift_tolerant_weighted_bce",
         "warmup_steps": 1000, "max_epochs": 100, "use_dbn": False, "eval_trim_beats": 5, "sum_head": True,
         "partial_transformers": True}


def save(path):
    torch.save({"state_dict": {"model." + k: v for k, v in network.state_dict().items()}, "hyper_parameters": hyper,
                "datamodule_hyper_parameters": {"batch_size": 8, "augmentations": {"tempo": True}},
                "pytorch-lightning_version": "2.4.0"}, path)


signal = np.load(song_path)
save(out_ckpt)
frames = Audio2Frames(checkpoint_path=out_ckpt, device="cpu")
# Random weights put the logits anywhere: move the head's biases so that about one frame in five has a beat logit
# above 0 and one in ten a downbeat logit (the beat logit is beat + downbeat), then save again (the test loads
# that file).
beat, downbeat = frames(signal, int(sample_rate))
with torch.no_grad():
    beat_shift, downbeat_shift = float(torch.quantile(beat, 0.8)), float(torch.quantile(downbeat, 0.9))
    network.task_heads.beat_downbeat_lin.bias[1] -= downbeat_shift
    network.task_heads.beat_downbeat_lin.bias[0] -= beat_shift - downbeat_shift
save(out_ckpt)
frames = Audio2Frames(checkpoint_path=out_ckpt, device="cpu")
spect = frames.signal2spect(signal, int(sample_rate))
beat, downbeat = frames.spect2frames(spect)
beats, downbeats = Postprocessor("minimal")(beat, downbeat)
np.savez(out_npz, spect=spect.numpy(), beat=beat.numpy(), downbeat=downbeat.numpy(), beats=beats,
         downbeats=downbeats)
