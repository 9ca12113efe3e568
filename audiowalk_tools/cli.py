"""The ``audiowalk`` command.

    audiowalk render SONG -o OUT.mp4 [options]       BigGAN-only pipeline, no ComfyUI needed (streams to the mp4)
    audiowalk render --demo -o OUT.mp4               the same on the bundled synthesised demo song
    audiowalk comfy-run WORKFLOW --server HOST:PORT --audio SONG [--set NODE.INPUT=VALUE ...] [-o OUT.mp4]
                                                     run a workflow on a ComfyUI server (a whole song in chunks)
    audiowalk comfy-run WORKFLOW --server A --server B ... --audio SONG --chunk-frames N -o OUT.mp4
                                                     spread the song's chunks over several servers, join them here
    audiowalk demo-song demo.wav                     write the synthesised demo song
"""
from __future__ import annotations

import argparse
import copy
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from audiowalk_core.generators.biggan import BIGGAN_MODELS
from audiowalk_core.errors import AudioWalkCancelled, AudioWalkInputError
from audiowalk_core.settings import FEATURES_NODE, PRESET_RENDER_OPTIONS, PRESETS, SETTINGS, node_settings
from . import cli_music_map, cli_sdwalk, cli_stylegan
from .cli_settings import add_setting_flags, settings_from_args

SHIPPED_WORKFLOWS = Path(__file__).resolve().parent.parent / "workflows"
AUDIO_LOADER_TYPES = {"AudioWalkLoadAudio": "audio", "LoadAudio": "audio"}
GENERATE_TYPE = "AudioWalkBigGANGenerate"
SAVE_VIDEO_TYPE = "AudioWalkSaveVideo"
FEATURES_TYPE = "AudioWalkAudioFeatures"


class CommandError(Exception):
    """A problem to print as one clear line (exit status 2)."""


class StopSignal(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: unwinds like Ctrl-C (temporary files removed), then exits with 128 + signal."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextmanager
def stop_signals_unwind():
    """While inside, SIGTERM and SIGHUP raise StopSignal in the main thread (once: a repeat during the unwinding is
    ignored, so the clean-up finishes); the previous handlers are restored on leaving."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = []

    def handle(signum, frame):
        if not stopping:
            stopping.append(signum)
            raise StopSignal(signum)

    previous = {signum: signal.signal(signum, handle) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# ---------------------------------------------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audiowalk", description="Audio-reactive BigGAN video from music.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    render = sub.add_parser("render", help="render a song with BigGAN, without ComfyUI",
                            description="Render the BigGAN-only pipeline (audio features -> latent walk -> BigGAN "
                                        "-> mp4 with the music) in this process, streaming frames to the file.")
    render.add_argument("song", nargs="?", type=Path, help="audio file (wav, mp3, flac, ogg, m4a)")
    render.add_argument("--demo", action="store_true", help="render the bundled synthesised demo song instead")
    render.add_argument("-o", "--output", type=Path, required=True, help="the mp4 to write")
    render.add_argument("--model", default=None,
                        help="BigGAN model (" + ", ".join(BIGGAN_MODELS) + "; default biggan-deep-128, "
                             "biggan-deep-512 with --preset seed), or a StyleGAN2/3 file (.pkl, .pt, .safetensors): "
                             "the generator is picked from the file")
    render.add_argument("--output-mapping", default=None, choices=("fixed", "per_frame_minmax"),
                        help="BigGAN output to pixels: fixed (x + 1) / 2 (default), or per_frame_minmax, the seed "
                             "notebook's (each frame stretched on its own: flickers; the default with --preset seed)")
    render.add_argument("--models-dir", type=Path, default=None,
                        help="folder holding the BigGAN weights (default: $AUDIOWALK_HOME/models/biggan, "
                             "AUDIOWALK_HOME defaulting to the current folder)")
    render.add_argument("--random-weights", action="store_true",
                        help="when the weights can be neither found nor downloaded, build the model from its real "
                             "config with RANDOM weights (meaningless pictures, a loud warning; for trying the "
                             "pipeline offline). Without it a missing model is an error.")
    render.add_argument("--preset", choices=tuple(PRESETS), default="default",
                        help="a named set of settings; flags given beside it override it. seed: the seed notebook "
                             "end to end (its bands, walk, class schedule, frame count and parameters, no "
                             "smoothing, biggan-deep-512 with per-frame min-max, the whole song under its shorter "
                             "video; docs/presets.md)")
    add_setting_flags(render, SETTINGS)
    render.add_argument("--keep-whole-song", action="store_true",
                        help="the music runs to its end even where the video is shorter (band-mode seed ends about "
                             "a second early); default: cut to the video (on with --preset seed)")
    render.add_argument("--batch-size", type=int, default=8, help="frames per BigGAN batch (default 8)")
    render.add_argument("--start-seconds", type=float, default=0.0, help="skip this much of the song (default 0)")
    render.add_argument("--duration-seconds", type=float, default=0.0,
                        help="use only this much of the song (default 0: to the end)")
    render.add_argument("--crf", type=int, default=18, help="H.264 quality, 0 (lossless) to 51 (default 18)")
    render.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda, mps (default auto)")
    render.add_argument("--dtype", default="auto", help="auto, float32, float16, bfloat16 (default auto)")

    run = sub.add_parser("comfy-run", help="run a workflow on one or several ComfyUI servers",
                         description="Upload the song, queue the workflow (API or UI format) on a running ComfyUI "
                                     "server, follow its progress and download the video. With a Render in Chunks "
                                     "node the server renders the whole song chunk by chunk from one submission; "
                                     "with several --server, the chunks are spread over all of them (each renders "
                                     "one chunk at a time) and joined here into one mp4 with the music.")
    run.add_argument("workflow", help="workflow .json (API or UI format), or the name of a shipped workflow "
                                      "(" + ", ".join(p.stem for p in sorted((SHIPPED_WORKFLOWS / "api").glob("*.json")))
                                      + ")")
    run.add_argument("--server", action="append", default=None, metavar="HOST:PORT",
                     help="ComfyUI address (default 127.0.0.1:8188); repeat it to spread the chunks over several "
                          "servers")
    run.add_argument("--audio", type=Path, help="song to upload into the workflow's Load Audio node(s)")
    run.add_argument("--set", dest="assignments", action="append", default=[], metavar="NODE.INPUT=VALUE",
                     help="set a widget; NODE is a node id or title, e.g. --set KSampler.seed=7 (repeatable)")
    run.add_argument("--preset", choices=tuple(PRESETS), default=None,
                     help="set the widgets of a preset before the --set ones (seed: the notebook end to end in the "
                          "BigGAN template: its bands, walk, classes, no smoothing, biggan-deep-512, the whole song "
                          "under the video; docs/presets.md)")
    run.add_argument("-o", "--output", type=Path, default=None,
                     help="where to save the video (a file name, or a folder; default: current folder)")
    run.add_argument("--chunk-frames", type=int, default=None, metavar="N",
                     help="frames per chunk (Render in Chunks' chunk_frames; default: the workflow's; 0 = the "
                          "whole song in one chunk, one server only)")
    run.add_argument("--timeout", type=float, default=None, help="give up after this many seconds per prompt "
                                                                 "(per chunk)")
    run.add_argument("--no-download", action="store_true", help="leave the outputs on the server (one server)")

    features = sub.add_parser("features", help="analyse a song: frame count, tempo, feature curves (and a plot)",
                              description="Compute the per-frame audio features the walk uses and print a summary.")
    features.add_argument("song", type=Path, help="audio file (wav, mp3, flac, ogg, m4a)")
    add_setting_flags(features, node_settings(FEATURES_NODE))
    features.add_argument("--start-seconds", type=float, default=0.0, help="skip this much of the song")
    features.add_argument("--duration-seconds", type=float, default=0.0, help="use only this much (0: to the end)")
    features.add_argument("--plot", type=Path, default=None, help="write a PNG plot of the curves here")
    cli_music_map.add_features_options(features)  # --stem, --separate, --json, --music-map

    demo = sub.add_parser("demo-song", help="write the synthesised demo song (wav)")
    demo.add_argument("output", nargs="?", type=Path, default=None, help="the wav to write")
    demo.add_argument("-o", "--output", dest="output_option", type=Path, default=None, help="the same, as an option")
    convert = sub.add_parser("convert-biggan", help="convert the original BigGAN files to one .safetensors file",
                             description="Checks config.json + pytorch_model.bin strictly against the architecture "
                                         "and writes one .safetensors file carrying the config.")
    convert.add_argument("source", type=Path, help="folder with config.json and pytorch_model.bin")
    convert.add_argument("output", type=Path, help="the .safetensors file to write")
    cli_sdwalk.add_commands(sub)
    parser.stylegan_handlers = cli_stylegan.add_commands(sub)
    return parser


def cmd_convert_biggan(args) -> int:
    from audiowalk_core.generators.biggan import convert_to_safetensors

    if args.output.suffix != ".safetensors":
        raise CommandError("the output must end in .safetensors")
    print(f"wrote {convert_to_safetensors(args.source, args.output)}")
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"render": cmd_render, "comfy-run": cmd_comfy_run, "demo-song": cmd_demo_song,
                "features": cmd_features, "convert-biggan": cmd_convert_biggan,
                "reactivity": cli_sdwalk.cmd_reactivity, **parser.stylegan_handlers}
    try:
        with stop_signals_unwind():
            return handlers[args.command](args) or 0
    except (AudioWalkInputError, CommandError) as exc:
        print(f"audiowalk {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except AudioWalkCancelled as exc:
        print(f"audiowalk {args.command}: cancelled: {exc}", file=sys.stderr)
        return 130
    except StopSignal as stop:
        print(f"audiowalk {args.command}: stopped by {signal.Signals(stop.signum).name}", file=sys.stderr)
        return 128 + stop.signum
    except KeyboardInterrupt:
        print(f"audiowalk {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the comfy client's errors are meant to be shown as they are
        from .comfy_client import ComfyError

        if isinstance(exc, ComfyError):
            print(f"audiowalk {args.command}: error: {exc}", file=sys.stderr)
            return 1
        raise


# ---------------------------------------------------------------------------------------------------- demo-song

def cmd_demo_song(args) -> int:
    from . import demo

    path = demo.write_demo_song(args.output or args.output_option or Path("audiowalk_demo.wav"))
    print(f"wrote {path}")
    return 0


# ---------------------------------------------------------------------------------------------------- features

def cmd_features(args) -> int:
    import tempfile

    from audiowalk_core.audio_file import close_clip, load_audio_to_disk
    from audiowalk_core.pipeline import compute_song_features, load_song_beat_tracker

    stem_files = cli_music_map.prepare(args)  # bad stems before any analysis
    settings = settings_from_args(args)
    download = TerminalProgress("downloading the beat tracker's checkpoint (bytes)", sys.stderr)
    beat_model = load_song_beat_tracker(settings, on_progress=download.update)  # missing weights: stop here
    download.finish()
    with tempfile.TemporaryDirectory(prefix="audiowalk-features-") as scratch:  # the decoded song, read in blocks
        clip = load_audio_to_disk(args.song, scratch, args.start_seconds, args.duration_seconds or None,
                                  input_name="song")
        try:
            features = compute_song_features(clip, settings, beat_model=beat_model)
            _print_features(args, clip, features)
            cli_music_map.finish(args, clip, features, stem_files)
        finally:
            close_clip(clip)
    return 0


def _print_features(args, clip, features) -> None:
    """The summary ``audiowalk features`` prints, and the plot it writes with --plot."""
    for warning in features.warnings:
        print(f"audiowalk features: warning: {warning}", file=sys.stderr)
    clock = features.clock
    print(f"{args.song.name}: {clip.num_samples / clip.sample_rate:.3f} s at {clip.sample_rate} Hz -> "
          f"{features.frame_count} frames at {clock.fps} fps")
    print(f"tempo {features.tempo_bpm:.1f} BPM, {len(features.beat_frames)} beats, "
          f"{max(len(features.band_edges_hz) - 1, 0)} {features.band_mode} bands")
    for name in sorted(features.curves):
        curve = features.curves[name]
        print(f"  {name:12s} {'x'.join(str(d) for d in curve.shape):>10s}  min {float(curve.min()):.3f}  "
              f"mean {float(curve.mean()):.3f}  max {float(curve.max()):.3f}")
    if args.plot is not None:
        from matplotlib.image import imsave

        from audiowalk_core.paths import atomic_output
        from audiowalk_core.plots import plot_features

        args.plot.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(args.plot) as tmp:
            imsave(tmp, plot_features(features), format="png")
        print(f"wrote {args.plot}")


# ---------------------------------------------------------------------------------------------------- render

def cmd_render(args) -> int:
    import tempfile

    from audiowalk_core import render

    if args.demo == (args.song is not None):
        raise CommandError("give either a SONG or --demo (not both, not neither)")
    if cli_stylegan.is_stylegan_model(args.model):
        return cli_stylegan.cmd_render_stylegan(args, TerminalProgress("rendering", sys.stderr))
    progress = TerminalProgress("rendering", sys.stderr)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="audiowalk-demo-") as scratch:
        song = args.song
        if args.demo:
            from . import demo

            song = demo.write_demo_song(Path(scratch) / "audiowalk_demo.wav")
        settings = settings_from_args(args)
        options = PRESET_RENDER_OPTIONS[args.preset]
        path = render.render_song(
            song, args.output, settings=settings, model_name=args.model or options["model"],
            models_dir=args.models_dir,
            batch_size=args.batch_size, allow_random_weights=args.random_weights,
            on_progress=progress.update, start_seconds=args.start_seconds,
            duration_seconds=args.duration_seconds or None, crf=args.crf, device=args.device, dtype=args.dtype,
            on_message=lambda text: print(text, file=sys.stderr, flush=True),
            keep_whole_song=args.keep_whole_song or options["keep_whole_song"],
            output_mapping=args.output_mapping or options["output_mapping"])
        progress.finish()
        print(cli_sdwalk.render_reactivity_line(path, song, settings, args.start_seconds, args.duration_seconds))
    print(f"wrote {path} in {time.perf_counter() - started:.1f} s")
    return 0


class TerminalProgress:
    """``on_progress(done, total)`` printing a one-line bar on a terminal, or a line every 10 % otherwise."""

    def __init__(self, label: str, stream=None):
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last_tenth = -1
        self.active = False

    def update(self, done: int, total: int) -> None:
        total = max(int(total), 1)
        if self.tty:
            width = 30
            filled = int(width * done / total)
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
            self.stream.flush()
            self.active = True
        else:
            tenth = int(10 * done / total)
            if tenth != self.last_tenth:
                self.last_tenth = tenth
                print(f"{self.label}: {done}/{total}", file=self.stream, flush=True)

    def finish(self) -> None:
        if self.tty and self.active:
            self.stream.write("\n")
            self.stream.flush()
        self.active = False
        self.last_tenth = -1


# ---------------------------------------------------------------------------------------------------- comfy-run

def resolve_workflow_path(text: str) -> Path:
    """A workflow file, or a shipped workflow's name (its API version)."""
    path = Path(text)
    if path.is_file():
        return path
    for candidate in (SHIPPED_WORKFLOWS / "api" / f"{text}.json", SHIPPED_WORKFLOWS / "api" / text):
        if candidate.is_file():
            return candidate
    shipped = ", ".join(p.stem for p in sorted((SHIPPED_WORKFLOWS / "api").glob("*.json"))) or "none"
    raise AudioWalkInputError("workflow", f"{text!r} is neither a file nor a shipped workflow",
                              f"a workflow .json file or one of: {shipped}")


def count_audio_samples(path, start_seconds: float = 0.0, duration_seconds: float = 0.0) -> tuple[int, int]:
    """``(num_samples, sample_rate)`` of the part of an audio file that Load Audio would load, by streaming it.

    Same decoder and the same start/duration rounding as ``load_audio``, without holding the samples.
    """
    import av

    path = os.fspath(path)
    try:
        container = av.open(path)
    except Exception as exc:  # noqa: BLE001
        raise AudioWalkInputError("--audio", f"{path!r} cannot be opened as audio ({exc})",
                                  "an audio file (wav, mp3, flac, ogg, m4a)") from None
    with container:
        streams = [s for s in container.streams if s.type == "audio"]
        if not streams:
            raise AudioWalkInputError("--audio", f"{path!r} has no audio stream", "an audio file")
        stream = streams[0]
        sample_rate = int(stream.codec_context.sample_rate or stream.rate)
        total = 0
        for frame in container.decode(stream):
            total += frame.samples
    first = int(round(max(start_seconds, 0.0) * sample_rate))
    available = max(total - first, 0)
    if duration_seconds and duration_seconds > 0:
        available = min(available, int(round(duration_seconds * sample_rate)))
    return available, sample_rate


def _single(api: dict, class_type: str, purpose: str) -> str:
    from .workflow_tools import nodes_of_type

    found = nodes_of_type(api, class_type)
    if len(found) != 1:
        raise CommandError(f"a chunked render needs exactly one {class_type} node ({purpose}); "
                           f"the workflow has {len(found)}")
    return found[0]


def _linked_or_value(api: dict, node_id: str, name: str):
    value = api[node_id]["inputs"].get(name)
    return None if isinstance(value, list) else value


def song_settings(api: dict) -> tuple[str, float, float]:
    """``(fps, start_seconds, duration_seconds)`` the workflow's Audio Features and Load Audio nodes use."""
    from .workflow_tools import nodes_of_type

    features_id = _single(api, FEATURES_TYPE, "its fps sets the frame count")
    fps = _linked_or_value(api, features_id, "fps")
    if fps is None:
        raise CommandError(f"node {features_id} ({FEATURES_TYPE}): fps is wired to another node; a chunked render "
                           "needs it as a value")
    start = duration = 0.0
    loaders = [nid for t in AUDIO_LOADER_TYPES for nid in nodes_of_type(api, t)]
    if loaders and api[loaders[0]]["class_type"] == "AudioWalkLoadAudio":
        start = float(_linked_or_value(api, loaders[0], "start_seconds") or 0.0)
        duration = float(_linked_or_value(api, loaders[0], "duration_seconds") or 0.0)
    return str(fps), start, duration


def total_frames_for(api: dict, song: Path) -> int:
    """The frame count the workflow's Audio Features node will compute for ``song`` (same FrameClock formula)."""
    from audiowalk_core.clock import FrameClock

    fps, start, duration = song_settings(api)
    samples, sample_rate = count_audio_samples(song, start, duration)
    return FrameClock.for_duration(samples, sample_rate, fps).frame_count


class PromptProgress:
    """Prints what the server reports for one prompt: which node runs, and its steps."""

    def __init__(self, prompt: dict, prefix: str = "", stream=None, show_cached: bool = True):
        self.prompt = prompt
        self.prefix = prefix
        self.show_cached = show_cached
        self.stream = stream or sys.stderr
        self.bar = TerminalProgress("", self.stream)
        self.current = None

    def _title(self, node_id) -> str:
        node = self.prompt.get(str(node_id)) or {}
        return (node.get("_meta") or {}).get("title") or node.get("class_type") or f"node {node_id}"

    def __call__(self, event) -> None:
        if event.kind == "queued":
            print(f"{self.prefix}queued: {event.value} prompt(s) ahead", file=self.stream, flush=True)
        elif event.kind == "cached" and event.nodes and self.show_cached:
            titles = ", ".join(self._title(n) for n in event.nodes)
            print(f"{self.prefix}cached: {titles}", file=self.stream, flush=True)
        elif event.kind == "executing" and event.node_id != self.current:
            self.bar.finish()
            self.current = event.node_id
            print(f"{self.prefix}running {self._title(event.node_id)} (node {event.node_id})", file=self.stream,
                  flush=True)
        elif event.kind == "progress" and event.maximum > 1:
            self.bar.label = f"{self.prefix}  {self._title(event.node_id)}"
            self.bar.update(event.value, event.maximum)
        elif event.kind == "done":
            self.bar.finish()


def _servers_from(args) -> list[str]:
    """The --server addresses, checked (format, duplicates) before any work."""
    from .comfy_client import ComfyConnectionError, server_url

    addresses = args.server or ["127.0.0.1:8188"]
    seen = {}
    for address in addresses:
        try:
            url = server_url(address)
        except ComfyConnectionError as exc:
            raise CommandError(str(exc)) from None
        if url in seen:
            raise CommandError(f"--server {address!r} is given twice (as {seen[url]!r})")
        seen[url] = address
    return addresses


def cmd_comfy_run(args) -> int:
    """SIGTERM/SIGHUP (StopSignal) unwind like Ctrl-C: running chunks are cancelled, nothing partial is left."""
    from audiowalk_core.audio import check_audio_file

    from .workflow_tools import load_workflow

    servers = _servers_from(args)
    if args.chunk_frames is not None and args.chunk_frames < 0:
        raise CommandError(f"--chunk-frames {args.chunk_frames} is negative: give frames per chunk (0 = the whole "
                           "song in one chunk)")
    if args.audio is not None:
        check_audio_file(args.audio, "--audio")
    if len(servers) > 1:
        if args.chunk_frames == 0:
            raise CommandError("--chunk-frames 0 renders the song as one chunk, which one server does; give "
                               "frames per chunk to spread the song over several servers")
        if args.no_download:
            raise CommandError("--no-download works with one server; several servers' parts are joined here")
        if args.audio is None:
            raise CommandError("several --server need --audio: the song is uploaded to each and its chunks are "
                               "joined here with the music")
    workflow = load_workflow(resolve_workflow_path(args.workflow))
    if len(servers) > 1:
        return _comfy_run_on_servers(args, servers, workflow)
    return _comfy_run_on_server(args, servers[0], workflow)


def _api_workflow(workflow: dict, object_info: dict, where: str) -> dict:
    """The workflow in API format, checked against a server's node types."""
    from .workflow_tools import is_ui_workflow, ui_to_api

    if is_ui_workflow(workflow):
        workflow = ui_to_api(workflow, object_info)
    missing = sorted({n["class_type"] for n in workflow.values()} - set(object_info))
    if missing:
        hint = (" (is ComfyUI-AudioWalk installed in ComfyUI's custom_nodes folder, with its requirements?)"
                if any(m.startswith("AudioWalk") for m in missing) else "")
        raise CommandError(f"the server at {where} has no node type(s) {', '.join(missing)}{hint}")
    return workflow


def _audio_loaders(api: dict) -> list[str]:
    from .workflow_tools import nodes_of_type

    loaders = [nid for t in AUDIO_LOADER_TYPES for nid in nodes_of_type(api, t)]
    if not loaders:
        raise CommandError("--audio: the workflow has no Load Audio node to put the song into")
    return loaders


def _with_song(api: dict, loaders: list[str], name: str) -> dict:
    api = copy.deepcopy(api)
    for node_id in loaders:
        api[node_id]["inputs"][AUDIO_LOADER_TYPES[api[node_id]["class_type"]]] = name
    return api


def _with_preset(api: dict, args, object_info: dict) -> dict:
    """The workflow with ``--preset``'s widget values (unchanged without the flag)."""
    if getattr(args, "preset", None) is None:
        return api
    from .workflow_tools import apply_preset

    return apply_preset(api, args.preset, object_info)


def _comfy_run_on_server(args, server: str, workflow: dict) -> int:
    """One server: one POST. With Render in Chunks, the server renders the whole song chunk by chunk itself."""
    from audiowalk_core.chunks import RENDER_WHOLE_SONG, ChunkPlan

    from .chunk_runs import chunk_save_node, chunked_prompt, render_chunks_node, render_whole_song, video_outputs
    from .comfy_client import ComfyClient
    from .workflow_tools import apply_assignments

    client = ComfyClient(server)
    object_info = client.object_info()
    api = _api_workflow(workflow, object_info, client.base_url)
    chunk_node = render_chunks_node(api)
    if chunk_node is None and args.chunk_frames is not None:
        raise CommandError("--chunk-frames needs a Render in Chunks node (AudioWalkRenderChunks) in the workflow")
    if chunk_node is not None:
        chunk_save_node(api, chunk_node)
    if args.audio is not None:
        loaders = _audio_loaders(api)
        name = client.upload_file(args.audio)
        print(f"uploaded {args.audio.name} as {name!r}", file=sys.stderr)
        api = _with_song(api, loaders, name)
    api = _with_preset(api, args, object_info)
    api = apply_assignments(api, args.assignments, object_info)

    if chunk_node is None:
        entry = client.run_prompt(api, on_event=PromptProgress(api), timeout=args.timeout)
        outputs = client.output_files(entry)
    else:
        prompt = chunked_prompt(api, chunk_node, RENDER_WHOLE_SONG, args.chunk_frames)
        plan = None
        if args.audio is not None:
            plan = ChunkPlan(total_frames_for(prompt, args.audio), int(prompt[chunk_node]["inputs"]["chunk_frames"]))
            print(f"{plan.total_frames:,} frames in {plan.count} chunk(s) of up to {plan.frames_per_chunk} frames",
                  file=sys.stderr)
        progress = {"printer": PromptProgress(prompt), "chunks": 0}  # later chunks' cached nodes go unsaid

        def on_chunk(index: int) -> None:
            progress["printer"].bar.finish()
            label = f"chunk {index + 1}" + (f" of {plan.count}" if plan else "")
            if plan is not None:
                start, count = plan.frame_range(index)
                label += f", frames {start}-{start + count - 1} of {plan.total_frames:,}"
            progress["printer"] = PromptProgress(prompt, f"[{label}] ", show_cached=not progress["chunks"])
            progress["chunks"] += 1

        entry = render_whole_song(client, prompt, chunk_node, plan=plan, on_chunk=on_chunk,
                                  on_event=lambda event: progress["printer"](event), timeout=args.timeout)
        progress["printer"].bar.finish()
        outputs = video_outputs(client, entry, api)
    if args.no_download:
        for item in outputs:
            print(f"on the server: {item.type}/{item.subfolder + '/' if item.subfolder else ''}{item.filename}")
        return 0
    videos = [o for o in outputs if api.get(o.node_id, {}).get("class_type") == SAVE_VIDEO_TYPE] or outputs
    if not videos:
        raise CommandError("the workflow finished but reported no output files")
    for target, item in zip(_download_targets(args.output, videos), videos):
        client.download(item, target)
        print(f"saved {target}")
    return 0


def _comfy_run_on_servers(args, servers: list[str], workflow: dict) -> int:
    """Several servers: every server renders one chunk at a time ("one chunk" prompts); the parts are joined here."""
    from audiowalk_core.audio_file import close_clip, load_audio_to_disk
    from audiowalk_core.chunks import RENDER_ONE_CHUNK, ChunkPlan
    from audiowalk_core.clock import FrameClock

    from .chunk_runs import (ChunkRunError, SpreadProgress, SpreadRender, chunk_save_node, chunked_prompt,
                             render_chunks_node, server_problems)
    from .comfy_client import ComfyClient, ComfyConnectionError
    from .workflow_tools import apply_assignments

    started = time.perf_counter()
    clients, infos, out = [], {}, []
    for address in servers:
        client = ComfyClient(address)
        try:
            infos[client.base_url] = client.object_info()
            clients.append(client)
        except ComfyConnectionError as exc:
            out.append(f"  {client.base_url}: {exc}")
            print(f"[{client.base_url}] out: {exc}", file=sys.stderr)
    if not clients:
        raise ChunkRunError("no server answered:\n" + "\n".join(out))
    first_info = infos[clients[0].base_url]
    api = _api_workflow(workflow, first_info, clients[0].base_url)
    chunk_node = render_chunks_node(api)
    if chunk_node is None:
        raise CommandError("several --server need a Render in Chunks node (AudioWalkRenderChunks) in the workflow")
    loaders = _audio_loaders(api)
    api = _with_preset(api, args, first_info)
    api = apply_assignments(api, args.assignments, first_info)
    save_node = chunk_save_node(api, chunk_node)
    api = chunked_prompt(api, chunk_node, RENDER_ONE_CHUNK, args.chunk_frames)
    chunk_frames = int(api[chunk_node]["inputs"]["chunk_frames"])
    if chunk_frames == 0:
        raise CommandError("the workflow's chunk_frames is 0 (the whole song as one chunk): give --chunk-frames N "
                           "to spread the song over several servers")
    problems = []
    for client in clients:
        found, notes = server_problems(api, client, infos[client.base_url])
        problems += found
        for note in notes:
            print(note, file=sys.stderr)
    if problems:
        raise CommandError("the servers cannot run this workflow:\n  " + "\n  ".join(problems))

    import tempfile

    fps, start_seconds, duration_seconds = song_settings(api)
    with tempfile.TemporaryDirectory(prefix="audiowalk-song-") as scratch:  # the decoded song, read in blocks
        song = load_audio_to_disk(args.audio, scratch, start_seconds, duration_seconds or None, input_name="--audio")
        plan = ChunkPlan(FrameClock.for_duration(song.num_samples, song.sample_rate, fps).frame_count, chunk_frames)
        prompts = {}
        for client in clients:
            try:
                name = client.upload_file(args.audio)
            except ComfyConnectionError as exc:
                print(f"[{client.base_url}] out: {exc}", file=sys.stderr)
                continue
            prompts[client] = _with_song(api, loaders, name)
        if not prompts:
            raise ChunkRunError("no server took the song")
        print(f"{plan.total_frames:,} frames in {plan.count} chunk(s) of up to {plan.frames_per_chunk} frames on "
              f"{len(prompts)} server(s)", file=sys.stderr)
        output = _spread_output_path(args.output, args.audio)
        progress = SpreadProgress()
        try:
            SpreadRender(prompts, chunk_node, save_node, plan, fps=fps, audio=song, output=output,
                         on_message=progress.message, on_progress=progress.progress, timeout=args.timeout).run()
        finally:
            progress.finish()
        close_clip(song)
    print(f"saved {output} ({plan.total_frames:,} frames from {len(prompts)} servers in "
          f"{time.perf_counter() - started:.1f} s)")
    return 0


def _spread_output_path(output: Path | None, song: Path) -> Path:
    """-o as a file; a folder (or none: the current one) gets ``<song name>.mp4``."""
    if output is not None and output.suffix and not output.is_dir():
        return output
    return (output or Path.cwd()) / f"{song.stem}.mp4"


def _download_targets(output: Path | None, items) -> list[Path]:
    if output is None:
        return [Path.cwd() / item.filename for item in items]
    if output.suffix and len(items) == 1 and not output.is_dir():
        return [output]
    output.mkdir(parents=True, exist_ok=True)
    return [output / item.filename for item in items]


if __name__ == "__main__":
    sys.exit(main())
