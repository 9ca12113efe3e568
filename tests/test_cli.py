"""The ``audiowalk`` command: comfy-run against a stand-in ComfyUI server, chunk planning, and render."""
import json

import numpy as np
import audiowalk_core
import pytest

from audiowalk_tools import cli
from audiowalk_core.audio import load_audio
from audiowalk_core.clock import FrameClock
from audiowalk_core.errors import AudioWalkInputError
from audiowalk_tools.workflow_tools import GraphNode, build_ui_workflow
from fake_comfyui import OBJECT_INFO, FakeComfyUI
from support import sine, write_wav

CORE_INFO = json.loads((cli.SHIPPED_WORKFLOWS.parent / "tests" / "data" /
                        "comfyui-0.3.64-core-object_info.json").read_text())
SERVER_INFO = {"LoadAudio": CORE_INFO["LoadAudio"], "FakeSave": OBJECT_INFO["FakeSave"],
               "FakeRaise": OBJECT_INFO["FakeRaise"]}
API = {
    "1": {"class_type": "LoadAudio", "inputs": {"audio": "placeholder.wav"}, "_meta": {"title": "Song"}},
    "2": {"class_type": "FakeSave", "inputs": {"audio": ["1", 0], "text": "hi", "start_frame": 0},
          "_meta": {"title": "Save Video"}},
}


@pytest.fixture
def server(tmp_path):
    with FakeComfyUI(tmp_path / "server", object_info=SERVER_INFO) as fake:
        yield fake


@pytest.fixture
def song(tmp_path):
    return write_wav(tmp_path / "song.wav", sine(440, 1.0, 22050), 22050)


def test_comfy_run_uploads_sets_runs_and_downloads(server, song, tmp_path, capsys):
    workflow = tmp_path / "wf.json"
    workflow.write_text(json.dumps(API))
    out = tmp_path / "result" / "video.mp4"
    code = cli.main(["comfy-run", str(workflow), "--server", server.address, "--audio", str(song),
                     "--set", "Save Video.text=hello world", "--set", "2.start_frame=3", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    sent = server.prompts[-1]
    assert sent["1"]["inputs"]["audio"] == "song.wav"
    assert (server.input_dir / "song.wav").read_bytes() == song.read_bytes()
    saved = json.loads(out.read_text())
    assert saved["text"] == "hello world" and saved["start_frame"] == 3
    err = capsys.readouterr().err
    assert "running Save Video (node 2)" in err


def test_comfy_run_takes_ui_format_workflows(server, song, tmp_path):
    ui = build_ui_workflow([GraphNode(1, "LoadAudio", (0, 0), title="Song", values={"audio": "x.wav"}),
                            GraphNode(2, "FakeSave", (300, 0), title="Save Video", values={"text": "from ui"},
                                      links={"audio": (1, 0)})], SERVER_INFO)
    workflow = tmp_path / "ui.json"
    workflow.write_text(json.dumps(ui))
    assert cli.main(["comfy-run", str(workflow), "--server", server.address, "--audio", str(song),
                     "-o", str(tmp_path / "out")]) == 0
    assert server.prompts[-1]["2"]["inputs"] == {"audio": ["1", 0], "text": "from ui", "start_frame": 0}
    assert len(list((tmp_path / "out").iterdir())) == 1


def test_comfy_run_reports_server_errors_clearly(server, song, tmp_path, capsys):
    api = json.loads(json.dumps(API))
    api["2"]["inputs"]["audio"] = ["3", 0]
    api["3"] = {"class_type": "FakeRaise", "inputs": {"audio": ["1", 0], "message": "fps: 0 is not positive"},
                "_meta": {"title": "Audio Features"}}
    workflow = tmp_path / "wf.json"
    workflow.write_text(json.dumps(api))
    code = cli.main(["comfy-run", str(workflow), "--server", server.address, "--audio", str(song)])
    assert code == 1
    assert "node 3 (FakeRaise 'Audio Features') failed" in capsys.readouterr().err
    api["9"] = {"class_type": "AudioWalkBigGANGenerate", "inputs": {}}
    workflow.write_text(json.dumps(api))
    assert cli.main(["comfy-run", str(workflow), "--server", server.address]) == 2
    err = capsys.readouterr().err
    assert "has no node type(s) AudioWalkBigGANGenerate" in err and "custom_nodes" in err


@pytest.mark.parametrize("argv, input_name", [
    (["--set", "Song.volume=3"], "Song.volume"),
    (["--set", "Nope.text=3"], "--set"),
    (["--audio", "missing.wav"], "--audio"),
])
def test_comfy_run_bad_arguments_name_the_input(server, tmp_path, capsys, argv, input_name):
    workflow = tmp_path / "wf.json"
    workflow.write_text(json.dumps(API))
    assert cli.main(["comfy-run", str(workflow), "--server", server.address, *argv]) == 2
    assert f"error: {input_name}:" in capsys.readouterr().err


def test_unknown_workflow_name_lists_the_shipped_ones(capsys):
    assert cli.main(["comfy-run", "no_such_workflow", "--server", "127.0.0.1:1"]) == 2
    assert "workflow: 'no_such_workflow' is neither a file nor a shipped workflow" in capsys.readouterr().err


@pytest.mark.parametrize("start, duration", [(0.0, 0.0), (0.25, 0.0), (0.1, 0.5)])
def test_sample_count_matches_load_audio(tmp_path, start, duration):
    path = write_wav(tmp_path / "s.wav", np.stack([sine(220, 1.3, 44100), sine(330, 1.3, 44100)]), 44100)
    clip = load_audio(path, start, duration or None)
    assert cli.count_audio_samples(path, start, duration) == (clip.num_samples, clip.sample_rate)
    frames = FrameClock.for_duration(clip.num_samples, clip.sample_rate, 30).frame_count
    assert frames == round((1.3 - start if not duration else duration) * 30)


def test_chunk_frames_needs_a_render_in_chunks_node(server, song, tmp_path, capsys):
    workflow = tmp_path / "wf.json"
    workflow.write_text(json.dumps(API))
    assert cli.main(["comfy-run", str(workflow), "--server", server.address, "--audio", str(song),
                     "--chunk-frames", "5"]) == 2
    assert "--chunk-frames needs a Render in Chunks node" in capsys.readouterr().err
    assert server.prompts == []


NOWHERE = "127.0.0.1:1"  # nothing listens there: these errors must come before any connection


@pytest.mark.parametrize("argv, message", [
    (["--server", "foo:bar"], "--server 'foo:bar' is not HOST:PORT or an http(s) URL"),
    (["--server", "http://[::1"], "is not HOST:PORT or an http(s) URL"),
    (["--server", NOWHERE, "--server", "http://127.0.0.1:1/"], "--server 'http://127.0.0.1:1/' is given twice"),
    (["--server", NOWHERE, "--server", "127.0.0.1:2", "--chunk-frames", "0"], "--chunk-frames 0 renders the song"),
    (["--server", NOWHERE, "--chunk-frames", "-3"], "--chunk-frames -3 is negative"),
    (["--server", NOWHERE, "--server", "127.0.0.1:2"], "several --server need --audio"),
    (["--server", NOWHERE, "--server", "127.0.0.1:2", "--audio", "missing.wav"],
     "--audio: 'missing.wav' does not exist"),
    (["--server", NOWHERE, "--audio", "missing.wav"], "--audio: 'missing.wav' does not exist"),
])
def test_bad_comfy_run_input_is_one_line_before_any_work(tmp_path, capsys, argv, message):
    workflow = tmp_path / "wf.json"
    workflow.write_text(json.dumps(API))
    assert cli.main(["comfy-run", str(workflow), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_comfy_run_preset_needs_the_nodes_it_sets(server, song, tmp_path, capsys):
    """--preset seed sets the BigGAN template's widgets (tests/test_seed_preset.py runs that); a workflow without
    any of its nodes is refused before anything is queued, naming the flag."""
    workflow = tmp_path / "wf.json"
    workflow.write_text(json.dumps(API))
    queued = len(server.prompts)
    assert cli.main(["comfy-run", str(workflow), "--server", server.address, "--audio", str(song),
                     "--preset", "seed"]) == 2
    assert "--preset: the workflow has none of the nodes preset 'seed' sets" in capsys.readouterr().err
    assert len(server.prompts) == queued
