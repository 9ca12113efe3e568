"""Error types as ComfyUI names them: ``<class __module__>.<class name>``, without the pack's folder path."""
import importlib.util

from support import REPO_ROOT


def comfy_type_name(error_class) -> str:
    """What ComfyUI's execution shows as ``exception_type`` (its ``full_type_name``)."""
    return f"{error_class.__module__}.{error_class.__qualname__}"


def test_error_types_carry_the_public_module_name_under_any_import_name():
    path = REPO_ROOT / "audiowalk_core" / "errors.py"
    spec = importlib.util.spec_from_file_location("ComfyUI-AudioWalk.audiowalk_core.errors", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert comfy_type_name(module.AudioWalkInputError) == "audiowalk_core.errors.AudioWalkInputError"
    assert comfy_type_name(module.AudioWalkCancelled) == "audiowalk_core.errors.AudioWalkCancelled"
    error = module.AudioWalkInputError("audio", "'x.mp3' is an empty file (0 bytes)", "an audio file")
    assert comfy_type_name(type(error)) + ": " + str(error) == (
        "audiowalk_core.errors.AudioWalkInputError: audio: 'x.mp3' is an empty file (0 bytes); "
        "expected an audio file")


def test_missing_model_error_reads_as_what_was_expected(tmp_path):
    import pytest

    from audiowalk_core.generators.biggan import load_biggan
    from audiowalk_core.errors import AudioWalkInputError

    with pytest.raises(AudioWalkInputError) as error:
        load_biggan("biggan-deep-128", [tmp_path], device="cpu", allow_download=False)
    assert f"; expected biggan-deep-128.safetensors in {tmp_path}, or the original files" in str(error.value)


def test_load_audio_node_validation_says_what_the_chosen_file_is(pack, comfy_home):
    load_node = pack.NODE_CLASS_MAPPINGS["AudioWalkLoadAudio"]
    (comfy_home / "input" / "album.mp3").mkdir()
    (comfy_home / "input" / "zero.mp3").write_bytes(b"")
    (comfy_home / "input" / "lyrics.mp3").write_text("la la la\n", encoding="utf-8")
    assert load_node.VALIDATE_INPUTS(audio="missing.mp3").startswith("audio: the song 'missing.mp3' is not in ComfyUI's input folder; upload one")
    assert load_node.VALIDATE_INPUTS(audio="album.mp3").startswith("audio: 'album.mp3' is a folder, not a file")
    assert load_node.VALIDATE_INPUTS(audio="zero.mp3").startswith("audio: 'zero.mp3' is an empty file (0 bytes)")
    assert "'lyrics.mp3' is not an audio file (looks like text)" in load_node.VALIDATE_INPUTS(audio="lyrics.mp3")


def test_cli_names_the_song_and_what_it_is(tmp_path, capsys):
    from audiowalk_tools import cli

    (tmp_path / "songs").mkdir()
    assert cli.main(["features", str(tmp_path / "songs")]) == 2
    assert "audiowalk features: error: song: 'songs' is a folder, not a file; expected an audio file" in (
        capsys.readouterr().err)
    (tmp_path / "empty.wav").write_bytes(b"")
    assert cli.main(["render", str(tmp_path / "empty.wav"), "-o", str(tmp_path / "out.mp4")]) == 2
    assert "audiowalk render: error: song: 'empty.wav' is an empty file (0 bytes)" in capsys.readouterr().err
    assert not (tmp_path / "out.mp4").exists()
