"""The music map template on a real ComfyUI server (skipped unless COMFYUI_DIR points at a ComfyUI checkout): the
shipped "AudioWalk music map video" (HTDemucs' drum stem drives the noise walk, the song's sections drive the
classes) POSTed once with the bundled demo song at 4 fps, a random-weight HTDemucs of the published architecture and
a tiny random BigGAN; the server renders the song in 4 chunks by itself, and the separation runs once per song, not
once per chunk.

How the separations are counted: ComfyUI announces every node it executes to the client that queued the prompt (the
websocket's ``executing`` events, which the chunk prompts inherit with the client id) and, per prompt, the nodes it
took from its cache (``execution_cached``); the stems cache on disk holds one entry per song.
"""
from __future__ import annotations

import pytest

from audiowalk_tools.comfy_client import ComfyClient
from comfy_harness import (COMFYUI_DIR, ComfyServer, ServerMessages, make_biggan, make_htdemucs, output_path,
                           probe, run_whole_song, shipped_prompt)

pytestmark = [pytest.mark.comfyui, pytest.mark.slow,
              pytest.mark.skipif(not COMFYUI_DIR, reason="set COMFYUI_DIR to a ComfyUI checkout to run")]

FPS, CHUNK_FRAMES, SONG_SECONDS = 4, 24, 20.0  # 80 frames of the demo song: chunks of 24, 24, 24 and 8


@pytest.fixture(scope="module")
def music_map_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("comfy_music_map")
    make_biggan(base)
    make_htdemucs(base)  # htdemucs (41,984,456 parameters, random): the template's model, as if downloaded
    with ComfyServer(base) as server:
        yield server


def node_id(prompt: dict, class_type: str) -> str:
    [found] = [nid for nid, node in prompt.items() if node["class_type"] == class_type]
    return found


def test_music_map_template_renders_a_song_in_chunks_and_separates_it_once(music_map_server):
    server = music_map_server
    client = ComfyClient(server.address)
    # Stem Features keeps its own fps widget at 30: linked to the mix, the stem follows the mix's 4 fps
    prompt = shipped_prompt("audiowalk_music_map", {
        "Audio Features.fps": str(FPS), "Render in Chunks.chunk_frames": CHUNK_FRAMES,
        "Save Music Video.filename_prefix": "it/music_map"})
    separate = node_id(prompt, "AudioWalkSeparateStems")
    assert prompt[node_id(prompt, "AudioWalkSeparateStems")]["inputs"]["method"] == "htdemucs"
    assert prompt[node_id(prompt, "AudioWalkStemFeatures")]["inputs"]["stem"] == "drums"
    assert prompt[node_id(prompt, "AudioWalkClassSchedule")]["inputs"]["mode"] == "sections"

    with ServerMessages(server.address, client.client_id) as heard:
        final, entries = run_whole_song(client, prompt, timeout=1200, heard=heard)
    # (prompt id, node id) of every node ComfyUI ran
    executed = [(event["data"]["prompt_id"], str(event["data"]["node"])) for event in heard.events
                if event["type"] == "executing" and event["data"].get("node") is not None]

    assert len(entries) == 4, server.log_tail()
    video = probe(output_path(server.base, final))
    assert video["fps"] == FPS and video["frames"].shape == (80, 64, 64, 3)
    assert abs(video["audio_seconds"] - SONG_SECONDS) <= 1.0 / FPS
    assert video["frames"].std() > 1.0
    assert sorted(p.name for p in (server.base / "output" / "it").iterdir()) == ["music_map_00001_.mp4"]

    # the separation ran in the first chunk's prompt only; the other chunks took it from ComfyUI's cache
    chunk_ids = [entry["prompt_id"] for entry in entries]
    separations = [pid for pid, nid in executed if nid == separate]
    print(f"Separate Stems executed in {len(separations)} of {len(chunk_ids)} chunk prompts; "
          f"{len(executed)} node executions seen")
    assert separations == [chunk_ids[0]], (separations, chunk_ids)
    assert {pid for pid, _ in executed} == set(chunk_ids)  # every chunk was followed (the count can fail)
    for chunk_id in chunk_ids[1:]:
        cached = [event["data"]["nodes"] for event in heard.events if event["type"] == "execution_cached"
                  and event["data"].get("prompt_id") == chunk_id]
        assert cached and separate in [str(n) for n in cached[0]], (chunk_id, cached)
    stems_cache = server.base / "user" / "audiowalk" / "cache" / "stems"
    entries_on_disk = [p.name for p in stems_cache.iterdir() if not p.name.startswith(".")]
    assert len(entries_on_disk) == 1, entries_on_disk  # one song, one method: one cache entry


def test_cancel_during_the_separation_of_a_3_minute_song_is_idle_within_60_s(music_map_server):
    """The template on a 3-minute song (HTDemucs on this CPU: about 2 minutes of separation): Cancel once Separate
    Stems reported its first segments returns the queue to idle within 60 s, leaves no stems-cache entry nor a
    temporary folder, and no parts folder."""
    import time
    import urllib.request

    from audiowalk_tools.demo import write_demo_song

    server = music_map_server
    client = ComfyClient(server.address)
    song = write_demo_song(server.base / "input" / "song_180s.flac", duration_seconds=180.0)
    prompt = shipped_prompt("audiowalk_music_map", {"Load Song.audio": song.name, "Audio Features.fps": str(FPS),
                                                    "Save Music Video.filename_prefix": "it/music_map_cancel"})
    separate = node_id(prompt, "AudioWalkSeparateStems")
    stems_cache = server.base / "user" / "audiowalk" / "cache" / "stems"
    before = set(stems_cache.iterdir()) if stems_cache.is_dir() else set()
    with ServerMessages(server.address, client.client_id) as heard:
        prompt_id = client.queue_prompt(prompt)
        started = time.monotonic()
        while not any(event["type"] == "progress" and str(event["data"].get("node")) == separate
                      and event["data"].get("value", 0) >= 1 for event in heard.events):
            assert time.monotonic() - started < 900, "Separate Stems never reported a segment"
            time.sleep(0.2)
        reached = time.monotonic() - started
        cancelled = time.monotonic()
        urllib.request.urlopen(urllib.request.Request(f"http://{server.address}/interrupt", data=b"{}",
                                                      method="POST"), timeout=30).read()
        while True:
            queue = client.get_json("/queue")
            if not queue["queue_running"] and not queue["queue_pending"]:
                break
            assert time.monotonic() - cancelled < 60, "the queue is still busy 60 s after Cancel"
            time.sleep(0.5)
        idle_after = time.monotonic() - cancelled
    print(f"Separate Stems' first segment after {reached:.0f} s; idle {idle_after:.1f} s after Cancel")
    entry = client.history(prompt_id)
    assert any(m[0] == "execution_interrupted" for m in entry["status"]["messages"])
    after = set(stems_cache.iterdir()) if stems_cache.is_dir() else set()
    assert after == before, sorted(p.name for p in after - before)  # no entry, no temporary folder
    assert not [p for p in (server.base / "output").rglob("*") if ".parts-" in p.name]
