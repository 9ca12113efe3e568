"""The ComfyUI HTTP client against a small in-process stand-in for ComfyUI's protocol (tests/fake_comfyui.py)."""
import json
import socket

import audiowalk_core
import pytest

from audiowalk_tools.comfy_client import (ComfyClient, ComfyConnectionError, ComfyExecutionError, ComfyInterrupted,
                                         ComfyPromptLost, ComfyPromptRejected,
                                         format_execution_error, format_prompt_rejection, server_url)
from fake_comfyui import FakeComfyUI


def _prompt(save_text="hello", source_audio="song.wav"):
    return {
        "1": {"class_type": "FakeSource", "inputs": {"audio": source_audio, "seed": 1}, "_meta": {"title": "Song"}},
        "2": {"class_type": "FakeSave", "inputs": {"audio": ["1", 0], "text": save_text, "start_frame": 0},
              "_meta": {"title": "Save Video"}},
    }


@pytest.fixture
def fake(tmp_path):
    with FakeComfyUI(tmp_path / "server") as server:
        yield server


@pytest.mark.parametrize("use_websocket", [True, False], ids=["websocket", "polling"])
def test_run_prompt_reports_progress_and_fetches_outputs(fake, tmp_path, use_websocket):
    if use_websocket:
        pytest.importorskip("websocket")
    client = ComfyClient(fake.address, use_websocket=use_websocket)
    events = []
    entry = client.run_prompt(_prompt("hello"), on_event=events.append, timeout=30)
    files = client.output_files(entry)
    assert [(f.node_id, f.key, f.type) for f in files] == [("2", "videos", "output")]
    target = client.download(files[0], tmp_path / "out" / "video.mp4")
    assert json.loads(target.read_text())["text"] == "hello"
    kinds = [e.kind for e in events]
    assert kinds[-1] == "done"
    if use_websocket:
        assert fake.websocket_connections == 1
        progress = [(e.node_id, e.value, e.maximum) for e in events if e.kind == "progress"]
        assert progress == [("1", 1, 2), ("1", 2, 2), ("2", 1, 2), ("2", 2, 2)]
        assert [e.node_id for e in events if e.kind == "executing"] == ["1", "2"]
        assert [e.node_id for e in events if e.kind == "executed"] == ["2"]
    else:
        assert fake.websocket_connections == 0


def test_upload_returns_the_name_comfyui_chose(fake, tmp_path):
    client = ComfyClient(fake.address)
    song = tmp_path / "song.wav"
    song.write_bytes(b"RIFF one")
    assert client.upload_file(song) == "song.wav"
    assert client.upload_file(song) == "song.wav"  # identical file: kept, same name
    song.write_bytes(b"RIFF two")
    assert client.upload_file(song) == "song (1).wav"  # different content: ComfyUI renames
    assert (fake.input_dir / "song (1).wav").read_bytes() == b"RIFF two"
    assert client.upload_file(song, subfolder="audiowalk") == "audiowalk/song.wav"


def test_rejected_prompt_names_node_title_and_input(fake):
    client = ComfyClient(fake.address, use_websocket=False)
    prompt = _prompt()
    del prompt["2"]["inputs"]["text"]
    with pytest.raises(ComfyPromptRejected) as info:
        client.run_prompt(prompt, timeout=30)
    message = str(info.value)
    assert "Prompt outputs failed validation" in message
    assert "node 2 (FakeSave 'Save Video'): Required input is missing: text" in message
    assert info.value.node_errors["2"]["class_type"] == "FakeSave"


def test_unknown_node_type_is_reported(fake):
    client = ComfyClient(fake.address, use_websocket=False)
    prompt = _prompt()
    prompt["3"] = {"class_type": "NoSuchNode", "inputs": {}}
    with pytest.raises(ComfyPromptRejected, match="node NoSuchNode does not exist"):
        client.queue_prompt(prompt)


@pytest.mark.parametrize("use_websocket", [True, False], ids=["websocket", "polling"])
def test_execution_error_names_node_and_exception(fake, use_websocket):
    if use_websocket:
        pytest.importorskip("websocket")
    client = ComfyClient(fake.address, use_websocket=use_websocket)
    prompt = _prompt()
    prompt["2"]["inputs"]["audio"] = ["3", 0]
    prompt["3"] = {"class_type": "FakeRaise", "inputs": {"audio": ["1", 0], "message": "fps: 0 is not positive"},
                   "_meta": {"title": "Audio Features"}}
    with pytest.raises(ComfyExecutionError) as info:
        client.run_prompt(prompt, timeout=30)
    assert str(info.value) == ("node 3 (FakeRaise 'Audio Features') failed: "
                               "audiowalk_core.errors.AudioWalkInputError: fps: 0 is not positive")
    assert info.value.node_id == "3"


def test_unreachable_server_says_how_to_fix():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ComfyClient(f"127.0.0.1:{port}", timeout=5)
    with pytest.raises(ComfyConnectionError, match=f"cannot reach ComfyUI at http://127.0.0.1:{port}"):
        client.object_info()


def test_server_url_forms():
    assert server_url("127.0.0.1:8188") == "http://127.0.0.1:8188"
    assert server_url("http://example.test:80/comfy/") == "http://example.test:80/comfy"
    with pytest.raises(ComfyConnectionError, match="--server"):
        server_url("ftp://host:1")


def test_message_formatting_without_a_prompt():
    answer = {"error": {"message": "Prompt outputs failed validation", "details": ""},
              "node_errors": {"7": {"errors": [{"message": "Value 0 smaller than min of 1", "details": "fps"}],
                                    "class_type": "AudioWalkSaveVideo"}}}
    assert format_prompt_rejection(answer) == ("ComfyUI refused the workflow: Prompt outputs failed validation\n"
                                               "  node 7 (AudioWalkSaveVideo): Value 0 smaller than min of 1: fps")
    assert format_execution_error({"node_id": "4", "node_type": "KSampler", "exception_type": "RuntimeError",
                                   "exception_message": "boom\n"}) == "node 4 (KSampler) failed: RuntimeError: boom"


def test_the_client_chooses_the_prompt_id_and_can_delete_and_interrupt(tmp_path):
    with FakeComfyUI(tmp_path / "server", node_delay_s=0.2) as fake:
        client = ComfyClient(fake.address, use_websocket=False)
        assert client.queue_prompt(_prompt("first"), prompt_id="first-id") == "first-id"
        assert client.queue_prompt(_prompt("second"), prompt_id="second-id") == "second-id"
        client.delete_queued(["second-id"])  # still waiting behind the first one: removed
        client.interrupt("first-id")
        with pytest.raises(ComfyInterrupted, match="first-id was interrupted"):
            client.follow_prompt("first-id", _prompt("first"), timeout=30)
        assert fake.deleted == ["second-id"] and fake.interrupts == [{"prompt_id": "first-id"}]
        assert client.history("second-id") is None and client.queue_position("second-id") is None


@pytest.mark.parametrize("use_websocket", [True, False], ids=["websocket", "polling"])
def test_following_a_prompt_the_server_does_not_have_fails(fake, use_websocket):
    """A restarted server forgets its queue: the prompt is neither queued nor finished, so it is lost."""
    if use_websocket:
        pytest.importorskip("websocket")
    client = ComfyClient(fake.address, use_websocket=use_websocket)
    with pytest.raises(ComfyPromptLost, match="no-such-prompt is neither queued nor finished"):
        client.follow_prompt("no-such-prompt", socket=client.open_event_socket(), timeout=60)


def test_a_server_error_on_post_prompt_is_a_connection_error_not_a_rejection(tmp_path):
    with FakeComfyUI(tmp_path / "server", prompt_http_status=500) as fake:
        with pytest.raises(ComfyConnectionError, match="HTTP 500") as info:
            ComfyClient(fake.address).queue_prompt(_prompt())
    assert not isinstance(info.value, ComfyPromptRejected)

