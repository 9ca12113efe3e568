"""The music map in ``audiowalk features``: ``--stem NAME=FILE`` (repeatable), ``--separate [METHOD]`` (HTDemucs
by default, or hpss), ``--json OUT.json`` and ``--music-map PNG``.

The JSON (written to a temporary name, then renamed) holds ``frame_count``, ``fps`` (exact, a string such as "30"
or "30000/1001"), ``duration_seconds``, ``tempo_bpm``, ``meter`` (beats per bar, 0 unknown), ``beats_seconds``,
``downbeats_seconds``, ``sections`` [{"start_seconds", "end_seconds", "label"}], ``curves`` (the mix's ``rms``,
``onset``, ``section_index`` per frame) and ``stems`` {NAME: {"rms": [...], "onset": [...]}} (one value per
frame, each stem's own curves in [0, 1]), ``notes`` (what was adjusted in the stems), ``warnings``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def add_features_options(parser) -> None:
    """The music map options of the ``features`` subcommand."""
    parser.add_argument("--stem", action="append", default=[], metavar="NAME=FILE",
                        help="a stem of the song (your own file, e.g. drums=drums.wav); repeat for each stem")
    parser.add_argument("--separate", nargs="?", const="htdemucs", default=None, metavar="METHOD",
                        help="separate the mix into stems: htdemucs (neural: drums, bass, other, vocals; the "
                             "default), htdemucs_6s (also guitar, piano), an HTDemucs .safetensors/.th file in the "
                             "models folder, or hpss (DSP: percussive + harmonic, no weights); cached under "
                             "$AUDIOWALK_HOME/cache/stems")
    parser.add_argument("--demucs-dir", type=Path, default=None, metavar="DIR",
                        help="folder of the HTDemucs weights (default $AUDIOWALK_HOME/models/demucs); missing "
                             "published weights are downloaded there")
    parser.add_argument("--no-model-download", action="store_true",
                        help="never download HTDemucs weights: a missing model is an error saying what to put where")
    parser.add_argument("--separate-shifts", type=int, default=0, metavar="N",
                        help="HTDemucs: average N extra passes over randomly delayed copies (default 0: one pass)")
    parser.add_argument("--separate-seed", type=int, default=0, metavar="SEED",
                        help="HTDemucs with --separate-shifts: the seed of the random delays")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT.json",
                        help="write frame count, fps, tempo, beats, downbeats, sections and per-stem curves here")
    parser.add_argument("--music-map", type=Path, default=None, metavar="PNG",
                        help="write the music map picture (sections, loudness, beats, downbeats, stems) here")


def prepare(args) -> dict:
    """Check the music map options before any analysis: {name: Path} of the stems."""
    from audiowalk_core.audio import check_audio_file
    from audiowalk_core.errors import AudioWalkInputError
    from audiowalk_core.stems import parse_stem_list

    separate = getattr(args, "separate", None)
    if separate is not None:
        from audiowalk_core.separation import is_neural
        from audiowalk_core.separation.htdemucs.store import check_model_choice

        if is_neural(separate):
            check_model_choice(separate, demucs_dirs(args), "--separate")
        if args.stem:
            raise AudioWalkInputError("--separate", "given together with --stem", "either your stems or --separate")
    stems = {}
    if args.stem:
        for item in args.stem:
            if "=" not in item:
                raise AudioWalkInputError("--stem", f"{item!r} has no '='", "NAME=FILE, e.g. drums=drums.wav")
        stems = {name: Path(path) for name, path in parse_stem_list("\n".join(args.stem), "--stem").items()}
        for name, path in stems.items():
            check_audio_file(path, f"stem {name}")
    return stems


def finish(args, clip, features, stem_files: dict) -> None:
    """Stems, the JSON and the picture, after the mix's features."""
    from audiowalk_core.stems import load_stems, stem_energies, stem_features

    stems = None
    per_stem = {}
    if getattr(args, "separate", None):
        stems = _separate(args, clip)
    elif stem_files:
        stems = load_stems(clip, stem_files, start_seconds=args.start_seconds,
                           duration_seconds=args.duration_seconds or None)
    if stems is not None:
        for note in stems.notes:
            print(f"audiowalk features: note: {note}", file=sys.stderr)
        for name in stems.names:
            per_stem[name] = stem_features(stems, name, features.clock.fps, mix_features=features,
                                           band_mode=features.band_mode if features.band_mode != "seed" else "improved")
    sections = getattr(features, "sections", ())
    print(f"meter {getattr(features, 'meter', 0)} beats per bar, {len(features.downbeat_frames)} downbeats, "
          f"{len(sections)} sections: " + " ".join(f"{s.label}@{s.start_seconds:.1f}s" for s in sections))
    if args.json is not None:
        document = music_map_document(features, per_stem, stems.notes if stems else ())
        _write_atomic(args.json, lambda tmp: Path(tmp).write_text(json.dumps(document), encoding="utf-8"))
        print(f"wrote {args.json}")
    if args.music_map is not None:
        from matplotlib.image import imsave

        from audiowalk_core.music_map_plot import plot_music_map

        energy = stem_energies(stems, features.clock) if stems else None
        _write_atomic(args.music_map, lambda tmp: imsave(tmp, plot_music_map(features, energy), format="png"))
        print(f"wrote {args.music_map}")


def _separate(args, clip):
    """Stems of the mix by ``args.separate``, through the disk cache (keyed by the file's digest and the part)."""
    from audiowalk_core.paths import audiowalk_home, file_digest
    from audiowalk_core.separation import separate_stems

    digest = f"{file_digest(args.song)}:{args.start_seconds}:{args.duration_seconds}"
    root = audiowalk_home() / "cache" / "stems"

    def progress(done, total):
        print(f"\rseparating ({args.separate}): block {done}/{total}", end="", file=sys.stderr, flush=True)

    def download(done, total):
        print(f"\rdownloading the {args.separate} weights: {done / 1e6:.1f} of {total / 1e6:.1f} MB", end="",
              file=sys.stderr, flush=True)

    stems = separate_stems(clip, args.separate, root, digest, on_progress=progress, model_dirs=demucs_dirs(args),
                           allow_download=not args.no_model_download, shifts=args.separate_shifts,
                           seed=args.separate_seed, on_download=download)
    print(f"\nstems: {', '.join(stems.names)} ({stems.source})", file=sys.stderr)
    return stems


def demucs_dirs(args) -> list:
    """Where HTDemucs weights are looked for (and downloaded to)."""
    from audiowalk_core.paths import audiowalk_home

    return [args.demucs_dir] if getattr(args, "demucs_dir", None) else [audiowalk_home() / "models" / "demucs"]


def _write_atomic(path: Path, write) -> None:
    from audiowalk_core.paths import atomic_output

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        write(tmp)


def _floats(values) -> list:
    return [round(float(v), 6) for v in values]


def music_map_document(features, per_stem: dict, notes=()) -> dict:
    """The JSON document of the module's docstring."""
    clock = features.clock
    return {
        "frame_count": clock.frame_count,
        "fps": str(clock.fps),
        "duration_seconds": clock.duration_seconds,
        "tempo_bpm": round(float(features.tempo_bpm), 3),
        "meter": int(getattr(features, "meter", 0)),
        "beats_seconds": _floats(getattr(features, "beat_seconds", [])),
        "downbeats_seconds": _floats(getattr(features, "downbeat_seconds", [])),
        "sections": [section.to_dict() for section in getattr(features, "sections", ())],
        "curves": {name: _floats(features.curves[name]) for name in ("rms", "onset", "section_index")
                   if name in features.curves},
        "stems": {name: {"rms": _floats(stem.curves["rms"]), "onset": _floats(stem.curves["onset"])}
                  for name, stem in per_stem.items()},
        "notes": list(notes),
        "warnings": list(features.warnings),
    }
