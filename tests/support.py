"""Helpers shared by the tests: load the node pack as ComfyUI does, and synthesise signals with known answers."""
from __future__ import annotations

from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
PACK_NAME = "audiowalk_pack"


def load_pack():
    """Import the repo root as a package (as ComfyUI imports custom_nodes/<folder>), without touching sys.path."""
    from audiowalk_tools.workflow_tools import import_node_pack

    return import_node_pack(REPO_ROOT, PACK_NAME)


def sine(freq_hz: float, seconds: float, sample_rate: int = 22050, amplitude: float = 0.5) -> np.ndarray:
    """Mono float32 sine."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def clicks(bpm: float, seconds: float, sample_rate: int = 22050, first_click_s: float = 0.5,
           click_ms: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Mono float32 click track (decaying noise bursts) and the click times in seconds."""
    n = int(round(seconds * sample_rate))
    out = np.zeros(n, np.float32)
    period = 60.0 / bpm
    times = np.arange(first_click_s, seconds - 0.05, period)
    rng = np.random.default_rng(0)
    length = int(click_ms * 1e-3 * sample_rate)
    envelope = np.exp(-np.arange(length) / (length / 5)).astype(np.float32)
    for t in times:
        start = int(round(t * sample_rate))
        seg = out[start:start + length]
        seg += (0.9 * rng.standard_normal(len(seg)) * envelope[:len(seg)]).astype(np.float32)
    return out, times


def write_wav(path, samples: np.ndarray, sample_rate: int) -> Path:
    """Write float samples ([n] or [channels, n]) as a 16-bit wav with soundfile."""
    import soundfile

    data = samples if samples.ndim == 1 else samples.T
    soundfile.write(str(path), data, sample_rate, subtype="PCM_16")
    return Path(path)


def chunked_biggan_workflow(object_info: dict, *, song: str = "song.wav", fps: str = "10", chunk_frames: int = 8,
                            prefix: str = "AudioWalk/spread", model_name: str = "biggan-deep-128",
                            duration_seconds: float = 0.0, batch_size: int = 4) -> dict:
    """The BigGAN workflow with Render in Chunks (API format): Load Audio -> Audio Features -> walk -> Smooth
    Latents -> Render in Chunks -> BigGAN Generate -> Save Video (its chunk from Render in Chunks, the music from
    Load Audio). Built from ``object_info`` so every widget has a valid value."""
    from audiowalk_tools.workflow_tools import GraphNode, build_ui_workflow, ui_to_api

    nodes = [
        GraphNode(1, "AudioWalkLoadAudio", (0, 0), title="Load Audio",
                  values={"audio": song, "duration_seconds": duration_seconds}),
        GraphNode(2, "AudioWalkAudioFeatures", (1, 0), title="Audio Features", values={"fps": fps},
                  links={"audio": (1, 0)}),
        GraphNode(3, "AudioWalkBandNoiseWalk", (2, 0), title="Band Noise Walk", links={"features": (2, 0)}),
        GraphNode(4, "AudioWalkClassSchedule", (2, 1), title="Class Schedule", links={"features": (2, 0)}),
        GraphNode(5, "AudioWalkMakeLatents", (3, 0), title="Make Latents",
                  links={"noise": (3, 0), "classes": (4, 0)}),
        GraphNode(6, "AudioWalkSmoothLatents", (4, 0), title="Smooth Latents", links={"latents": (5, 0)}),
        GraphNode(7, "AudioWalkLoadBigGAN", (4, 1), title="Load BigGAN",
                  values={"model_name": model_name, "allow_download": False}),
        GraphNode(8, "AudioWalkRenderChunks", (5, 0), title="Render in Chunks",
                  values={"chunk_frames": chunk_frames}, links={"latents": (6, 0)}),
        GraphNode(9, "AudioWalkBigGANGenerate", (6, 0), title="BigGAN Generate", values={"batch_size": batch_size},
                  links={"model": (7, 0), "latents": (8, 0)}),
        GraphNode(10, "AudioWalkSaveVideo", (7, 0), title="Save Video", values={"filename_prefix": prefix},
                  links={"images": (9, 0), "chunk": (8, 1), "audio": (1, 0)}),
    ]
    return ui_to_api(build_ui_workflow(nodes, object_info), object_info)


def save_tiny_biggan(folder) -> Path:
    """Save a tiny random BigGAN (the real architecture at channel width 4, 32 px) in ``folder`` under the name
    biggan-deep-128, as renders look it up; returns the folder."""
    from audiowalk_core.generators.biggan import random_biggan_weights, save_biggan_safetensors, tiny_config

    folder = Path(folder)
    config = tiny_config()
    save_biggan_safetensors(random_biggan_weights(config, 0), config, folder / "biggan-deep-128.safetensors")
    return folder


def run_api_prompt(pack, prompt: dict, chunk_node: str | None = None, only: tuple = ()) -> dict:
    """Run an API-format prompt in this process as ComfyUI's executor would: every node once, in dependency order,
    hidden inputs (``prompt``, ``unique_id``) given; with ``chunk_node`` (a Render in Chunks node) the prompt of
    chunk k + 1 follows chunk k's (what Save Music Video's requeue asks ComfyUI for) until the last chunk; ``only``:
    run just the nodes of these class types (and what they need of them). Returns the outputs {node id: return
    value} of the last prompt run."""
    from audiowalk_core.chunks import prompt_for_chunk

    nodes = pack.NODE_CLASS_MAPPINGS
    index = 0
    while True:
        outputs = {}
        pending = [node_id for node_id, node in prompt.items() if not only or node["class_type"] in only]
        while pending:
            for node_id in list(pending):
                inputs = prompt[node_id]["inputs"]
                links = {k: v for k, v in inputs.items() if isinstance(v, list)}
                if any(source not in outputs for source, _ in links.values()):
                    continue
                cls = nodes[prompt[node_id]["class_type"]]
                declared = cls.INPUT_TYPES()
                known = set(declared.get("required", {})) | set(declared.get("optional", {}))
                values = {k: (outputs[v[0]][v[1]] if k in links else v) for k, v in inputs.items() if k in known}
                hidden = declared.get("hidden", {})
                values.update({k: v for k, v in (("prompt", prompt), ("unique_id", node_id)) if k in hidden})
                result = getattr(cls(), cls.FUNCTION)(**values)
                outputs[node_id] = result["result"] if isinstance(result, dict) else result
                pending.remove(node_id)
        if chunk_node is None:
            return outputs
        chunk = outputs[chunk_node][1]
        if chunk.is_last:
            return outputs
        index += 1
        prompt = prompt_for_chunk(prompt, chunk_node, index, chunk.origin)
