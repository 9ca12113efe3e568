"""One song on several (fake) ComfyUI servers: dispatch, re-queue after a death or an error, the failure message,
the join (frame for frame, with the music) and cleanup after Ctrl-C / SIGTERM; and one server's whole-song render
from one POST. The fakes (tests/fake_comfyui.py) render chunks with the core's own chunk and video code."""
import contextlib
import json
import time
import os
import signal
import threading
from fractions import Fraction

import av
import numpy as np
import pytest

from audiowalk_core.chunks import RENDER_ONE_CHUNK, ChunkPlan, chunk_prompt_id
from audiowalk_tools import cli
from audiowalk_tools.chunk_runs import SpreadRender, chunked_prompt
from audiowalk_tools.comfy_client import ComfyClient
from fake_comfyui import CHUNK_ERROR, FakeComfyUI, frame_level
from support import chunked_biggan_workflow, sine, write_wav

SONG_SECONDS, FPS = 3.0, 10
TOTAL_FRAMES = 30


def with_biggan_choices(object_info: dict, choices: list) -> dict:
    """``object_info`` whose Load BigGAN offers ``choices`` (a server's model list)."""
    changed = json.loads(json.dumps(object_info))
    changed["AudioWalkLoadBigGAN"]["input"]["required"]["model_name"][0] = choices
    return changed


@pytest.fixture(scope="module")
def server_info(pack):
    """What a ComfyUI with our pack and biggan-deep-128 on disk lists (the others marked for download)."""
    from audiowalk_tools import workflow_builder

    info = workflow_builder.build_object_info(pack)
    listed = info["AudioWalkLoadBigGAN"]["input"]["required"]["model_name"][0]
    return with_biggan_choices(info, ["biggan-deep-128"] + [c for c in listed if not c.startswith("biggan-deep-128")])


@pytest.fixture
def song(tmp_path):
    return write_wav(tmp_path / "song.wav", sine(330.0, SONG_SECONDS, 22050), 22050)


@pytest.fixture
def workflow(tmp_path, server_info):
    path = tmp_path / "chunked.json"
    path.write_text(json.dumps(chunked_biggan_workflow(server_info, fps=str(FPS))))
    return path


@contextlib.contextmanager
def fakes(tmp_path, server_info, *settings):
    """Fake servers, one per dict of FakeComfyUI settings, all running at once."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(FakeComfyUI(tmp_path / f"server{i}", object_info=server_info, **options))
               for i, options in enumerate(settings)]


def run(workflow, song, servers, out, *extra) -> int:
    argv = ["comfy-run", str(workflow), "--audio", str(song), "-o", str(out), *extra]
    for server in servers:
        argv += ["--server", server.address]
    return cli.main(argv)


def decode(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(stream)])
        fps = Fraction(stream.average_rate)
    with av.open(str(path)) as container:
        audio = container.streams.audio[0]
        audio_seconds = sum(frame.samples for frame in container.decode(audio)) / audio.rate
    return frames, fps, audio_seconds


def check_song_video(path, total=TOTAL_FRAMES):
    """Every frame of the song, in order (each fake frame is one grey level set by its index), with the music."""
    frames, fps, audio_seconds = decode(path)
    assert frames.shape[0] == total and fps == FPS
    levels = frames.reshape(total, -1).mean(axis=1)
    expected = np.array([frame_level(i) for i in range(total)])
    assert np.abs(levels - expected).max() < 2.0, np.round(levels - expected, 1)
    assert abs(audio_seconds - total / FPS) <= 1 / FPS


def chunks_done_by(server):
    return sorted(index for index, mode in server.chunks_finished if mode == RENDER_ONE_CHUNK)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_every_server_renders_and_the_parts_join_frame_for_frame(tmp_path, server_info, workflow, song, capsys):
    out = tmp_path / "out" / "video.mp4"
    with fakes(tmp_path, server_info, {}, {}, {"chunk_delay_s": 0.2}) as servers:
        assert run(workflow, song, servers, out, "--chunk-frames", "5") == 0, capsys.readouterr().err
    check_song_video(out)
    done = [chunks_done_by(server) for server in servers]
    assert all(done), done  # every server rendered at least one chunk
    assert sorted(sum(done, [])) == list(range(6))  # each of the 6 chunks exactly once
    for server in servers:  # one upload of the song per server, one chunk per prompt
        assert [p.name for p in server.input_dir.iterdir()] == ["song.wav"]
        assert len(server.posted_ids) == len(chunks_done_by(server))
    assert leftovers(out.parent) == ["video.mp4"]
    err = capsys.readouterr().err
    assert "30 frames in 6 chunk(s) of up to 5 frames on 3 server(s)" in err
    assert "chunk 6 of 6: frames 25-29" in err and "30 of 30 frames (6 of 6 chunks)" in err


def test_a_server_that_dies_mid_chunk_has_its_chunk_rendered_elsewhere(tmp_path, server_info, workflow, song,
                                                                       capsys):
    out = tmp_path / "video.mp4"
    with fakes(tmp_path, server_info, {"chunk_delay_s": 0.2}, {"dies_in_chunk": 1}) as (steady, dying):
        assert run(workflow, song, [steady, dying], out) == 0, capsys.readouterr().err
    check_song_video(out)
    [(lost_chunk, _)] = dying.chunks_started
    assert dying.chunks_finished == [] and chunks_done_by(steady) == [0, 1, 2, 3]
    assert lost_chunk in chunks_done_by(steady)
    err = capsys.readouterr().err
    assert f"[http://{dying.address}] out:" in err and "goes to another server" in err


def test_a_server_answering_500_is_out_and_the_others_render(tmp_path, server_info, workflow, song, capsys):
    out = tmp_path / "video.mp4"
    with fakes(tmp_path, server_info, {}, {"prompt_http_status": 500}) as (steady, broken):
        assert run(workflow, song, [broken, steady], out) == 0, capsys.readouterr().err
    check_song_video(out)
    assert chunks_done_by(steady) == [0, 1, 2, 3] and broken.chunks_started == []
    assert "HTTP 500" in capsys.readouterr().err


def test_a_chunk_that_errors_is_retried_on_another_server(tmp_path, server_info, workflow, song, capsys):
    out = tmp_path / "video.mp4"
    with fakes(tmp_path, server_info, {"chunk_delay_s": 0.2}, {"fail_chunks": {1}}) as (steady, flaky):
        assert run(workflow, song, [steady, flaky], out) == 0, capsys.readouterr().err
    check_song_video(out)
    assert flaky.chunks_started[0] == (1, RENDER_ONE_CHUNK)  # the first round: chunk k to server k
    assert 1 in chunks_done_by(steady) and 1 not in chunks_done_by(flaky)
    assert chunks_done_by(flaky)  # the error was the chunk's, not the server's: it rendered others
    err = capsys.readouterr().err
    assert (f"[http://{flaky.address}] chunk 2 of 4: frames 8-15 failed: node 9 (AudioWalkBigGANGenerate "
            f"'BigGAN Generate') failed: torch.OutOfMemoryError: {CHUNK_ERROR}; it is tried on another server") in err


def test_a_chunk_that_fails_everywhere_fails_the_run_naming_chunk_servers_and_message(tmp_path, server_info,
                                                                                      workflow, song, capsys):
    out = tmp_path / "video.mp4"
    with fakes(tmp_path, server_info, {"fail_chunks": {2}}, {"fail_chunks": {2}}) as servers:
        assert run(workflow, song, servers, out) == 1
    err = capsys.readouterr().err
    assert "error: chunk 3 of 4: frames 16-23 failed on every server:" in err
    for server in servers:
        assert (f"  http://{server.address}: node 9 (AudioWalkBigGANGenerate 'BigGAN Generate') failed: "
                f"torch.OutOfMemoryError: {CHUNK_ERROR}") in err
    assert leftovers(tmp_path) == sorted(["chunked.json", "server0", "server1", "song.wav"])


def test_the_run_fails_when_no_server_is_left(tmp_path, server_info, workflow, song, capsys):
    out = tmp_path / "video.mp4"
    with fakes(tmp_path, server_info, {"dies_in_chunk": 1}, {"dies_in_chunk": 2}) as servers:
        assert run(workflow, song, servers, out) == 1
    err = capsys.readouterr().err
    assert "error: no server left for chunk(s)" in err
    assert all(f"  http://{server.address}: out:" in err for server in servers)
    assert not out.exists() and not any(p.name.startswith(".video") for p in tmp_path.iterdir())


def test_a_refused_workflow_fails_at_once_naming_server_and_node(tmp_path, server_info, workflow, song, capsys):
    strict = json.loads(json.dumps(server_info))
    strict["AudioWalkSaveVideo"]["input"]["required"]["flavour"] = ["STRING", {}]
    out = tmp_path / "video.mp4"
    with contextlib.ExitStack() as stack:
        steady = stack.enter_context(FakeComfyUI(tmp_path / "steady", object_info=server_info, chunk_delay_s=30))
        strict_server = stack.enter_context(FakeComfyUI(tmp_path / "strict", object_info=strict))
        assert run(workflow, song, [steady, strict_server], out) == 1
    err = capsys.readouterr().err
    assert f"error: http://{strict_server.address} refused the workflow (chunk 2 of 4" in err
    assert "node 10 (AudioWalkSaveVideo 'Save Video'): Required input is missing: flavour" in err
    assert all({"prompt_id": posted} in steady.interrupts for posted in steady.posted_ids)  # its chunk stopped
    assert steady.chunks_finished == []
    assert not out.exists()


def test_a_missing_model_is_named_with_its_server_before_any_work(tmp_path, server_info, workflow, song, capsys):
    without = with_biggan_choices(server_info, ["biggan-deep-256"])
    download_only = with_biggan_choices(server_info, ["biggan-deep-128 (download, 211 MB)", "biggan-deep-256"])
    with contextlib.ExitStack() as stack:
        good = stack.enter_context(FakeComfyUI(tmp_path / "good", object_info=server_info))
        lacking = stack.enter_context(FakeComfyUI(tmp_path / "lacking", object_info=without))
        to_download = stack.enter_context(FakeComfyUI(tmp_path / "download", object_info=download_only))
        servers = [good, lacking, to_download]
        assert run(workflow, song, servers, tmp_path / "video.mp4") == 2  # the workflow says allow_download false
    err = capsys.readouterr().err
    assert (f"http://{lacking.address}: node 7 (AudioWalkLoadBigGAN 'Load BigGAN'): model_name 'biggan-deep-128' "
            "is not on this server (missing model?); it offers 'biggan-deep-256'") in err
    assert (f"http://{to_download.address}: node 7 (AudioWalkLoadBigGAN 'Load BigGAN'): model_name "
            "'biggan-deep-128' is not on this server and allow_download is off") in err
    assert f"http://{good.address}:" not in err
    assert all(server.posted_ids == [] and not any(server.input_dir.iterdir()) for server in servers)


def test_a_model_a_server_downloads_first_is_a_note(tmp_path, server_info, song, capsys):
    download_only = with_biggan_choices(server_info, ["biggan-deep-128 (download, 211 MB)"])
    api = chunked_biggan_workflow(server_info, fps=str(FPS))
    api["7"]["inputs"]["allow_download"] = True
    workflow = tmp_path / "downloading.json"
    workflow.write_text(json.dumps(api))
    with fakes(tmp_path, server_info, {}) as [good], \
            FakeComfyUI(tmp_path / "download", object_info=download_only) as to_download:
        assert run(workflow, song, [good, to_download], tmp_path / "video.mp4") == 0, capsys.readouterr().err
    assert f"http://{to_download.address} does not have 'biggan-deep-128' yet: it downloads it first" in \
        capsys.readouterr().err
    check_song_video(tmp_path / "video.mp4")


def spread_render(servers, workflow, song, out, **options) -> SpreadRender:
    """A SpreadRender of the test workflow over ``servers`` (the song uploaded to each, as the CLI does)."""
    from audiowalk_core.audio import load_audio

    api = json.loads(workflow.read_text())
    prompts = {}
    for server in servers:
        client = ComfyClient(server.address)
        with_song = json.loads(json.dumps(api))
        with_song["1"]["inputs"]["audio"] = client.upload_file(song)
        prompts[client] = chunked_prompt(with_song, "8", RENDER_ONE_CHUNK)
    return SpreadRender(prompts, "8", "10", ChunkPlan(TOTAL_FRAMES, 8), fps=FPS, audio=load_audio(song),
                        output=out, **options)


def test_ctrl_c_interrupts_the_busy_servers_and_leaves_nothing(tmp_path, server_info, workflow, song):
    out_dir = tmp_path / "out"
    statuses = []

    def press_ctrl_c_when_all_are_busy(status):
        statuses.append(status)
        if all(server.started for server in status.servers):
            raise KeyboardInterrupt

    with fakes(tmp_path, server_info, {"chunk_delay_s": 60}, {"chunk_delay_s": 60}) as servers:
        render = spread_render(servers, workflow, song, out_dir / "video.mp4",
                               on_progress=press_ctrl_c_when_all_are_busy)
        with pytest.raises(KeyboardInterrupt):
            render.run()
        for server in servers:
            [running] = server.posted_ids
            assert {"prompt_id": running} in server.interrupts and running in server.deleted
            assert server.chunks_finished == []
    assert leftovers(out_dir) == []
    busy = statuses[-1].servers
    assert sorted(server.chunk.index for server in busy) == [0, 1] and statuses[-1].frames_done == 0


def sigterm_when_busy(busy_count):
    """An on_chunk_start hook that sends this process SIGTERM once ``busy_count`` chunks have started."""
    started = []
    lock = threading.Lock()

    def hook(server, prompt_id, chunk_index):
        with lock:
            started.append(chunk_index)
            if len(started) == busy_count:
                os.kill(os.getpid(), signal.SIGTERM)

    return hook


def test_sigterm_cancels_the_spread_render(tmp_path, server_info, workflow, song, capsys):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    hook = sigterm_when_busy(2)
    with fakes(tmp_path, server_info, {"chunk_delay_s": 60, "on_chunk_start": hook},
               {"chunk_delay_s": 60, "on_chunk_start": hook}) as servers:
        assert run(workflow, song, servers, out_dir / "video.mp4") == 128 + signal.SIGTERM
        for server in servers:
            [running] = server.posted_ids
            assert {"prompt_id": running} in server.interrupts
    assert "stopped by SIGTERM" in capsys.readouterr().err
    assert leftovers(out_dir) == []


# ---------------------------------------------------------------------------------------------------- one server

def test_one_server_renders_the_whole_song_from_one_post(tmp_path, server_info, workflow, song, capsys):
    out = tmp_path / "whole.mp4"
    with fakes(tmp_path, server_info, {}) as [server]:
        assert run(workflow, song, [server], out, "--chunk-frames", "8") == 0, capsys.readouterr().err
    check_song_video(out)
    [origin] = server.posted_ids  # one POST; the server queued chunks 2..4 itself
    assert server.prompt_ids == [origin] + [chunk_prompt_id(origin, k) for k in (1, 2, 3)]
    assert [index for index, _ in server.chunks_finished] == [0, 1, 2, 3]
    assert {p["8"]["inputs"]["render"] for p in server.prompts} == {"whole song"}
    err = capsys.readouterr().err
    assert "30 frames in 4 chunk(s) of up to 8 frames" in err
    assert "[chunk 4 of 4, frames 24-29 of 30] running Save Video (node 10)" in err


@pytest.mark.parametrize("use_websocket", [True, False], ids=["websocket", "polling"])
def test_one_server_whole_song_follows_without_knowing_the_song(tmp_path, server_info, workflow, song,
                                                                use_websocket):
    """Without --audio the chunk count is unknown here: the client follows the chunk prompts until the video."""
    from audiowalk_tools.chunk_runs import render_whole_song

    with fakes(tmp_path, server_info, {}) as [server]:
        client = ComfyClient(server.address, use_websocket=use_websocket)
        api = json.loads(workflow.read_text())
        api["1"]["inputs"]["audio"] = client.upload_file(song)
        followed = []
        entry = render_whole_song(client, chunked_prompt(api, "8", "whole song", 12), "8", on_chunk=followed.append)
        [video] = client.output_files(entry)
        client.download(video, tmp_path / "whole.mp4")
        history = dict(server.history)
    # a chunk whose entry was gone before the client read it is skipped over (up to the video), never waited for
    assert followed[0] == 0 and followed == sorted(set(followed)) and followed[-1] <= 2
    assert [index for index, _ in server.chunks_finished] == [0, 1, 2]
    assert list(history) == [entry["prompt"][1]]  # one history entry (one Queue-panel card): the video's
    check_song_video(tmp_path / "whole.mp4")


def test_a_client_far_behind_the_server_still_gets_the_video(tmp_path, server_info, workflow, song):
    """The server removes each finished chunk's history entry as the next one starts; a client that looks only
    after the render is over finds the video through the render's last entry."""
    from audiowalk_tools.chunk_runs import render_whole_song

    with fakes(tmp_path, server_info, {}) as [server]:
        client = ComfyClient(server.address, use_websocket=False)
        api = json.loads(workflow.read_text())
        api["1"]["inputs"]["audio"] = client.upload_file(song)
        original = client.follow_prompt

        def late(prompt_id, *args, **kwargs):  # the first chunk's entry is read only when every chunk is done
            while len(server.chunks_finished) < 3:
                time.sleep(0.05)
            return original(prompt_id, *args, **kwargs)

        client.follow_prompt = late
        followed = []
        entry = render_whole_song(client, chunked_prompt(api, "8", "whole song", 12), "8", on_chunk=followed.append)
    assert followed == [0] and client.output_files(entry)
    assert list(server.history) == [entry["prompt"][1]]


def test_sigterm_cancels_the_whole_song_render_on_the_server(tmp_path, server_info, workflow, song, capsys):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    terminate = sigterm_when_busy(2)

    def slow_from_the_second_chunk(fake, prompt_id, chunk_index):
        fake.chunk_delay_s = 0.0 if chunk_index == 0 else 60.0
        terminate(fake, prompt_id, chunk_index)

    with fakes(tmp_path, server_info, {"on_chunk_start": slow_from_the_second_chunk}) as [server]:
        assert run(workflow, song, [server], out_dir / "whole.mp4") == 128 + signal.SIGTERM
        origin = server.posted_ids[0]
        assert {"prompt_id": chunk_prompt_id(origin, 1)} in server.interrupts
        assert chunk_prompt_id(origin, 2) in server.deleted
        assert [index for index, _ in server.chunks_finished] == [0]
    assert "stopped by SIGTERM" in capsys.readouterr().err
    assert leftovers(out_dir) == []
