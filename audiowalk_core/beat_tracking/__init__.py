"""Neural beat and downbeat tracking: our implementation of Beat This! (CPJKU, ISMIR 2024, MIT code and weights),
an optional backend of the music map (setting ``beat_tracker``).

``network.py`` the network, ``spectrogram.py`` its log-mel input (numpy/scipy), ``inference.py`` chunked inference
and the minimal post-processing, ``store.py`` the checkpoints (where, download, safe strict reading, shared copies).
"""
from __future__ import annotations

from .inference import NeuralBeats, beats_from_logits, track_beats
from .store import (DSP, MODEL_KIND, PUBLISHED, TRACKER_CHECKPOINTS, BeatTracker, check_tracker_choice,
                    default_search_dirs, load_beat_tracker, read_checkpoint, tracker_choices)

__all__ = ["DSP", "MODEL_KIND", "PUBLISHED", "TRACKER_CHECKPOINTS", "BeatTracker", "NeuralBeats",
           "beats_from_logits", "check_tracker_choice", "default_search_dirs", "load_beat_tracker",
           "read_checkpoint", "track_beats", "tracker_choices"]
