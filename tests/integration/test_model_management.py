"""BigGAN under ComfyUI's model management, on a real server (skipped unless COMFYUI_DIR points at a checkout).

    COMFYUI_DIR=/path/to/ComfyUI .venv/bin/pytest -q tests/integration/test_model_management.py

The server is the one tests/integration/test_comfyui_server.py starts (``--cpu``, a temporary base folder with this
repository in custom_nodes). Here a random-weight BigGAN with the real biggan-deep-512 architecture (236 MB in
float32) is added to its models/biggan, and one graph renders a frame with it: Load Song -> Audio Features -> walk ->
Make Latents -> BigGAN Generate -> PreviewImage. Measured on the ComfyUI process: its resident memory (RSS) with the
model loaded, after ``POST /free`` (unload models, free memory), and with two Load BigGAN nodes of the same model.
Also: the feature curve nodes drive a core node's FLOAT widget (one run per frame, or one frame's value).
"""
from __future__ import annotations

import json
import time
import urllib.request

import psutil
import pytest

from audiowalk_tools.comfy_client import ComfyClient
from integration.test_comfyui_server import COMFYUI_DIR, comfy_server  # noqa: F401 - the shared server fixture

pytestmark = [pytest.mark.comfyui, pytest.mark.slow,
              pytest.mark.skipif(not COMFYUI_DIR, reason="set COMFYUI_DIR to a ComfyUI checkout to run")]

MODEL_FILE = "random-deep-512.safetensors"
MB = 1_000_000


@pytest.fixture(scope="module")
def big_model(comfy_server):  # noqa: F811 - pytest's fixture injection
    """A biggan-deep-512 with random weights in the server's models/biggan; its bytes in float32."""
    from audiowalk_core.generators.biggan import builtin_config, random_biggan_weights, save_biggan_safetensors

    weights = random_biggan_weights("biggan-deep-512", seed=1)
    size = sum(t.numel() * t.element_size() for t in weights.values())
    save_biggan_safetensors(weights, builtin_config("biggan-deep-512"),
                            comfy_server[1] / "models" / "biggan" / MODEL_FILE)
    del weights
    return MODEL_FILE.removesuffix(".safetensors"), size


@pytest.fixture(scope="module")
def server_process(comfy_server):  # noqa: F811
    base = str(comfy_server[1])
    for process in psutil.process_iter(["cmdline"]):
        if base in (process.info["cmdline"] or []):
            return process
    pytest.fail(f"no ComfyUI process started with --base-directory {base}")


@pytest.fixture(scope="module")
def song_name(comfy_server, tmp_path_factory):  # noqa: F811
    from support import sine, write_wav

    song = write_wav(tmp_path_factory.mktemp("mm_song") / "mm_tone.wav", sine(220.0, 2.0, 22050), 22050)
    return ComfyClient(comfy_server[0]).upload_file(song)


def graph(song: str, loaders: list[dict]) -> dict:
    """One frame per loader: each Load BigGAN feeds its own BigGAN Generate and PreviewImage."""
    prompt = {
        "1": {"class_type": "AudioWalkLoadAudio",
              "inputs": {"audio": song, "start_seconds": 0.0, "duration_seconds": 0.0}},
        "2": {"class_type": "AudioWalkAudioFeatures",
              "inputs": {"audio": ["1", 0], "fps": 2.0, "band_mode": "improved", "max_frequency_level": 11000.0,
                         "low_frequency_skip": 16.0, "frequency_band_growth_rate": 1.01, "extra_detail": 0.9,
                         "band_count": 16}},
        "3": {"class_type": "AudioWalkBandNoiseWalk",
              "inputs": {"features": ["2", 0], "seed": 0, "mode": "improved", "truncation": 0.5,
                         "smoothing_factor": 0.1, "iterations": 1, "chain_order": "lowest_correlation",
                         "pulse_strength": 0.6, "motion_strength": 0.5}},
        "4": {"class_type": "AudioWalkClassSchedule",
              "inputs": {"features": ["2", 0], "labels": "teapot", "mode": "interpolate", "beats_per_switch": 4,
                         "crossfade_frames": 8}},
        "5": {"class_type": "AudioWalkMakeLatents",
              "inputs": {"noise": ["3", 0], "classes": ["4", 0], "truncation": 0.5}},
    }
    for index, loader in enumerate(loaders):
        load, generate, preview = (str(10 + 3 * index + k) for k in range(3))
        prompt[load] = {"class_type": "AudioWalkLoadBigGAN",
                        "inputs": {"dtype": "float32", "device": "auto", "allow_download": False, **loader}}
        prompt[generate] = {"class_type": "AudioWalkBigGANGenerate",
                            "inputs": {"model": [load, 0], "latents": ["5", 0], "start_frame": 0, "frame_count": 1,
                                       "batch_size": 1, "output_mapping": "fixed"}}
        prompt[preview] = {"class_type": "PreviewImage", "inputs": {"images": [generate, 0]}}
    return prompt


def rss(process) -> int:
    return process.memory_info().rss


def free(address: str) -> None:
    request = urllib.request.Request(f"http://{address}/free", method="POST",
                                     data=json.dumps({"unload_models": True, "free_memory": True}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30):
        pass


def rss_after_free(address: str, process, below: int, deadline_s: float = 120.0) -> int:
    """POST /free, then the process RSS once it has fallen below ``below``, or the last reading at the deadline.

    ComfyUI frees in its prompt worker after the request returns; the request only wakes a worker that is already
    waiting for the queue (a /free that arrives while it finishes a prompt waits for the next prompt), so it is
    sent again every 5 s until the memory has gone."""
    deadline = time.monotonic() + deadline_s
    while True:
        free(address)
        for _ in range(5):
            time.sleep(1.0)
            now = rss(process)
            if now < below or time.monotonic() > deadline:
                return now


def log_since(log_path, offset: int) -> str:
    return log_path.read_text(errors="replace")[offset:]


def test_biggan_runs_on_cpu_under_cpu_flag_is_freed_by_free_and_loaders_share_it(comfy_server, big_model,  # noqa: F811
                                                                                 server_process, song_name):
    address, _, log_path = comfy_server
    client = ComfyClient(address)
    name, model_bytes = big_model
    one = graph(song_name, [{"model_name": name}])
    # two Load BigGAN nodes of the same file (their widgets differ, so ComfyUI runs both)
    two = graph(song_name, [{"model_name": name}, {"model_name": name + ".safetensors", "allow_download": True}])

    # one loader: ComfyUI's model management loads it, on the CPU (the server runs with --cpu)
    offset = len(log_path.read_text(errors="replace"))
    started = rss(server_process)
    client.run_prompt(one, timeout=900)
    log = log_since(log_path, offset)
    assert "Requested to load BigGAN" in log, log[-3000:]
    assert f"AudioWalk: {name} on cpu (float32), placed by ComfyUI's model management" in log, log[-3000:]

    # POST /free unloads it and drops the cached outputs: its weights leave the process (twice, the second time
    # with every library and kernel of the run already loaded)
    loaded = rss(server_process)
    freed = rss_after_free(address, server_process, below=loaded - model_bytes)
    client.run_prompt(one, timeout=900)
    loaded_again = rss(server_process)
    freed_again = rss_after_free(address, server_process, below=loaded_again - model_bytes)

    # two loaders of it: the process grows as for one (a second copy would add its 236 MB)
    offset = len(log_path.read_text(errors="replace"))
    client.run_prompt(two, timeout=900)
    shared = rss(server_process)
    log = log_since(log_path, offset)
    assert log.count("Requested to load BigGAN") == 1, log[-3000:]  # the second Generate found it loaded
    assert log.count(f"AudioWalk: {name} on cpu") == 2, log[-3000:]
    freed_shared = rss_after_free(address, server_process, below=shared - model_bytes)

    print(f"\nComfyUI RSS (MB), model {model_bytes / MB:.0f} MB in float32: started {started / MB:.0f}; one loader "
          f"{loaded / MB:.0f}, after /free {freed / MB:.0f}; again {loaded_again / MB:.0f}, after /free "
          f"{freed_again / MB:.0f}; two loaders {shared / MB:.0f}, after /free {freed_shared / MB:.0f}")
    for before, after in ((loaded, freed), (loaded_again, freed_again), (shared, freed_shared)):
        assert before - after > model_bytes, (before, after, model_bytes)
    one_loader, two_loaders = loaded_again - freed, shared - freed_again
    assert two_loaders < one_loader + model_bytes / 2, (one_loader, two_loaders, model_bytes)


def test_feature_curves_drive_a_core_float_widget(comfy_server, tmp_path):  # noqa: F811
    """Feature Curve's FLOAT list into core ImageScaleBy.scale_by runs it once per frame; Feature Value at Frame,
    its frame linked from core PrimitiveInt, gives one frame's value. Song: 1 s of silence, then 1 s of a tone."""
    import av
    import numpy as np
    from support import sine, write_wav

    client = ComfyClient(comfy_server[0])
    song = write_wav(tmp_path / "quiet_then_loud.wav",
                     np.concatenate([np.zeros(22050, np.float32), sine(220.0, 1.0, 22050)]), 22050)
    prompt = {key: node for key, node in graph(client.upload_file(song), []).items() if key in ("1", "2")}
    prompt["2"]["inputs"]["fps"] = 4.0  # 8 frames: 0-3 silent, 4-7 loud
    selection = {"features": ["2", 0], "curve": "rms", "index": 0, "low": 0.5, "high": 1.0}
    prompt.update({
        "20": {"class_type": "AudioWalkFeatureCurve", "inputs": dict(selection)},
        "21": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}},
        "22": {"class_type": "ImageScaleBy",
               "inputs": {"image": ["21", 0], "upscale_method": "nearest-exact", "scale_by": ["20", 0]}},
        "23": {"class_type": "PreviewImage", "inputs": {"images": ["22", 0]}},
        "30": {"class_type": "PrimitiveInt", "inputs": {"value": 6}},
        "31": {"class_type": "AudioWalkFeatureValueAtFrame", "inputs": {**selection, "frame": ["30", 0]}},
        "32": {"class_type": "ImageScaleBy",
               "inputs": {"image": ["21", 0], "upscale_method": "nearest-exact", "scale_by": ["31", 0]}},
        "33": {"class_type": "PreviewImage", "inputs": {"images": ["32", 0]}},
    })
    entry = client.run_prompt(prompt, timeout=300)

    def widths(node_id):
        result = []
        for index, output in enumerate(f for f in client.output_files(entry) if f.node_id == node_id):
            with av.open(str(client.download(output, tmp_path / f"{node_id}_{index}.png"))) as container:
                result.append(next(container.decode(video=0)).width)
        return result

    per_frame = widths("23")
    assert len(per_frame) == 8 and per_frame[:3] == [32, 32, 32] and per_frame[-3:] == [64, 64, 64], per_frame
    assert widths("33") == [64]
