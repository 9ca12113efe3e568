"""CLI: ``audiowalk reactivity VIDEO SONG`` (how strongly a rendered video's picture follows the music), and the
reactivity line ``audiowalk render`` prints after writing its video."""
from __future__ import annotations

from pathlib import Path


def render_reactivity_line(video_path, song_path, settings, start_seconds: float = 0.0,
                           duration_seconds: float | None = None) -> str:
    """The reactivity figure of a rendered video against its song's onsets (features as the render computed them)."""
    import tempfile

    from audiowalk_core.audio_file import close_clip, load_audio_to_disk
    from audiowalk_core.pipeline import compute_song_features
    from audiowalk_core.sd_walk.reactivity import video_reactivity

    with tempfile.TemporaryDirectory(prefix="audiowalk-reactivity-") as scratch:  # the song read in blocks
        clip = load_audio_to_disk(song_path, scratch, start_seconds, duration_seconds or None, input_name="song")
        try:
            onset = compute_song_features(clip, settings.replace(beat_tracker="dsp")).curve("onset")  # beats unused
        finally:
            close_clip(clip)
    return video_reactivity(video_path, onset).describe()


def cmd_reactivity(args) -> int:
    from audiowalk_core.pipeline import DEFAULT_PIPELINE
    from audiowalk_core.sd_walk.reactivity import video_frame_changes

    _, fps = video_frame_changes(args.video, width=16)
    settings = DEFAULT_PIPELINE.replace(fps=args.fps or f"{fps:g}")
    print(f"{args.video.name}: " + render_reactivity_line(args.video, args.song, settings, args.start_seconds))
    return 0


def add_commands(subparsers) -> None:
    parser = subparsers.add_parser("reactivity", help="how strongly a video's picture change follows the onsets",
                                   description="Correlation of frame-to-frame picture change with the song's onset "
                                               "strength, and the lag (frames) where it peaks.")
    parser.add_argument("video", type=Path, help="the rendered mp4")
    parser.add_argument("song", type=Path, help="the song it was rendered from")
    parser.add_argument("--fps", default="", help="the video's exact frame rate (default: read from the video)")
    parser.add_argument("--start-seconds", type=float, default=0.0, help="where the render started in the song")
    parser.set_defaults(func=cmd_reactivity)
