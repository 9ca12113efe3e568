"""Settings declared once (audiowalk_core/settings.py): the nodes as the menu adds them, the pipeline, the CLI flags
and the core functions' defaults all agree, and the widget names saved workflows use never change."""
import inspect
import re

import numpy as np
import pytest

from audiowalk_core import analysis, classes, smoothing, walk
from audiowalk_core.pipeline import DEFAULT_PIPELINE, PipelineSettings, compute_song_features, make_walk_latents
from audiowalk_core.settings import (PIPELINE_NODES, SETTINGS, node_inputs, node_settings, preset,
                                     settings_from_widgets)
from audiowalk_tools import cli
from audiowalk_tools.demo import synthesize_demo_song
from support import REPO_ROOT

# The widgets of the pipeline nodes as saved workflows hold them (widgets_values are positional): never rename,
# never reorder; new widgets go at the end.
SAVED_WIDGETS = {
    "AudioWalkAudioFeatures": ["fps", "band_mode", "max_frequency_level", "low_frequency_skip",
                               "frequency_band_growth_rate", "extra_detail", "band_count"],
    "AudioWalkBandNoiseWalk": ["seed", "mode", "truncation", "smoothing_factor", "iterations", "chain_order",
                               "pulse_strength", "motion_strength"],
    "AudioWalkClassSchedule": ["labels", "mode", "beats_per_switch", "crossfade_frames"],
    "AudioWalkSmoothLatents": ["method", "target", "attack_frames", "release_frames", "sigma_frames"],
}
# The core step function behind each node: it takes the node's widget names as keywords.
CORE_FUNCTIONS = {"AudioWalkAudioFeatures": [analysis.compute_features],
                  "AudioWalkBandNoiseWalk": [walk.band_noise_walk],
                  "AudioWalkClassSchedule": [classes.label_weights, classes.class_schedule],
                  "AudioWalkSmoothLatents": [smoothing.smooth_latents]}
CORE_KEYWORD = {"chain_order": "chain_order_name"}  # band_noise_walk's name (walk.chain_order is a function)


def fresh_widget_values(node_class) -> dict:
    """A node as the menu adds it: every widget at its INPUT_TYPES default."""
    declared = node_class.INPUT_TYPES()
    inputs = {**declared["required"], **declared.get("optional", {})}  # in widget order: required, then optional
    return {name: spec[1]["default"] for name, spec in inputs.items() if len(spec) > 1 and "default" in spec[1]}


def test_widget_names_and_order_are_those_of_saved_workflows(pack):
    for node, widgets in SAVED_WIDGETS.items():
        types = pack.NODE_CLASS_MAPPINGS[node].INPUT_TYPES()
        shown = list(types["required"]) + list(types.get("optional", {}))  # the frontend's widget order
        declared = [s.widget_name for s in node_settings(node)]
        assert declared[:len(widgets)] == widgets, node
        assert [name for name in shown if name in declared] == declared, node


def test_every_node_added_fresh_has_the_pipelines_defaults(pack):
    for node in PIPELINE_NODES:
        values = fresh_widget_values(pack.NODE_CLASS_MAPPINGS[node])
        declared = {s.widget_name: s for s in node_settings(node)}
        assert set(declared) <= set(values), node
        for widget, item in declared.items():
            assert values[widget] == getattr(DEFAULT_PIPELINE, item.name), f"{node}.{widget}"
        assert settings_from_widgets(node, {w: values[w] for w in declared}) == DEFAULT_PIPELINE
    # and every widget the four nodes show is a declared setting (links and the audio input aside)
    for node in PIPELINE_NODES:
        declared = pack.NODE_CLASS_MAPPINGS[node].INPUT_TYPES()
        for section in ("required", "optional"):
            widgets = {name for name, spec in declared.get(section, {}).items() if isinstance(spec[0], list)
                       or spec[0] in ("INT", "FLOAT", "STRING", "BOOLEAN")} - {"allow_download"}
            assert widgets == {s.widget_name for s in node_settings(node)
                               if s.optional == (section == "optional")}, (node, section)


def test_fresh_nodes_give_the_latents_of_the_pipeline_and_of_the_core_defaults(pack):
    """The walk nodes run with nothing but their menu defaults equal make_walk_latents(DEFAULT_PIPELINE), and the
    core functions called with no keywords at all."""
    from audiowalk_core.audio import audio_to_comfy
    from audiowalk_core.classes import class_schedule
    from audiowalk_core.smoothing import smooth_latents

    song = synthesize_demo_song(sample_rate=22050, duration_seconds=4.0)

    def run(node, **inputs):
        cls = pack.NODE_CLASS_MAPPINGS[node]
        return getattr(cls(), cls.FUNCTION)(**inputs, **fresh_widget_values(cls))

    features = run("AudioWalkAudioFeatures", audio=audio_to_comfy(song))[0]
    noise = run("AudioWalkBandNoiseWalk", features=features)[0]
    weights = run("AudioWalkClassSchedule", features=features)[0]
    latents = getattr(pack.NODE_CLASS_MAPPINGS["AudioWalkMakeLatents"](), "combine")(noise, weights)[0]
    from_nodes = run("AudioWalkSmoothLatents", latents=latents)[0]

    from_pipeline = make_walk_latents(compute_song_features(song, DEFAULT_PIPELINE), DEFAULT_PIPELINE)
    assert np.array_equal(from_nodes.noise, from_pipeline.noise)
    assert np.array_equal(from_nodes.dense_class_weights(), from_pipeline.dense_class_weights())

    core_features = analysis.compute_features(song)
    core_noise = walk.band_noise_walk(core_features)
    core_weights = class_schedule(core_features, DEFAULT_PIPELINE.labels)
    assert np.array_equal(core_features.curves["bands"], features.curves["bands"])
    core_smoothed = smooth_latents(from_pipeline.__class__(**{**from_pipeline.__dict__, "noise": core_noise}))
    assert np.array_equal(core_smoothed.noise, from_pipeline.noise)
    assert np.array_equal(core_weights, from_pipeline.dense_class_weights())


def test_core_function_defaults_are_the_declared_ones():
    for node, functions in CORE_FUNCTIONS.items():
        for function in functions:
            parameters = inspect.signature(function).parameters
            for item in node_settings(node):
                keyword = CORE_KEYWORD.get(item.name, item.widget_name)
                if item.name == "labels" or keyword not in parameters:
                    continue
                assert parameters[keyword].default == item.default, f"{function.__name__}({keyword})"
    seed_bands = inspect.signature(analysis.seed_band_energies).parameters
    for name in ("max_frequency_level", "low_frequency_skip", "frequency_band_growth_rate", "extra_detail"):
        assert seed_bands[name].default == getattr(DEFAULT_PIPELINE, name)


def test_no_default_is_written_twice():
    """The values the issue found in five and four places stand only in settings.py now."""
    patterns = {r"max_frequency_level\W[^\n]*\b11000\b": "max_frequency_level", r"pulse_strength\W[^\n]*\b0\.6\b":
                "pulse_strength", r"SEED_DEFAULTS": "SEED_DEFAULTS"}  # in code: comments may cite the values
    for folder in ("audiowalk_core", "audiowalk_tools", "nodes"):
        for path in (REPO_ROOT / folder).rglob("*.py"):
            if path.name == "settings.py":
                continue
            text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
            for pattern, name in patterns.items():
                assert not re.search(pattern, text), f"{path.relative_to(REPO_ROOT)} declares {name} again"


def test_pipeline_settings_are_the_table():
    assert [f for f in PipelineSettings.__dataclass_fields__] == [s.name for s in SETTINGS]
    assert all(getattr(DEFAULT_PIPELINE, s.name) == s.default for s in SETTINGS)
    with pytest.raises(TypeError):
        DEFAULT_PIPELINE.replace(mode="seed")  # a widget name is not a setting name


def test_settings_from_widgets_keeps_defaults_for_widgets_a_saved_workflow_lacks():
    settings = settings_from_widgets("AudioWalkBandNoiseWalk", {"seed": 4.0, "mode": "seed"})
    assert (settings.seed, settings.walk_mode, settings.pulse_strength) == (4, "seed", DEFAULT_PIPELINE.pulse_strength)
    with pytest.raises(TypeError, match="walk_mode"):
        settings_from_widgets("AudioWalkBandNoiseWalk", {"walk_mode": "seed"})


def test_every_setting_is_a_render_flag_and_the_flags_default_to_the_pipeline():
    parser = cli.build_parser()
    args = parser.parse_args(["render", "song.wav", "-o", "out.mp4"])
    assert cli.settings_from_args(args) == DEFAULT_PIPELINE
    argv = ["render", "song.wav", "-o", "out.mp4"]
    for item in SETTINGS:
        value = item.choices[-1] if item.choices else ("24" if item.name == "fps" else
                                                        "teapot" if item.kind == "STRING" else "3")
        argv += [item.flag, value]
    settings = cli.settings_from_args(parser.parse_args(argv))
    for item in SETTINGS:
        expected = item.coerce(item.choices[-1] if item.choices else ("24" if item.name == "fps" else
                                                                      "teapot" if item.kind == "STRING" else "3"))
        assert getattr(settings, item.name) == expected, item.flag
    assert node_inputs("AudioWalkSmoothLatents")["method"][0] == ["ema", "gaussian", "none"]
    assert "--smoothing" in parser._subparsers._group_actions[0].choices["render"].format_help()


def test_a_preset_is_overridden_by_the_flags_given_beside_it():
    parser = cli.build_parser()
    args = parser.parse_args(["render", "s.wav", "-o", "o.mp4", "--preset", "seed", "--seed", "7",
                              "--smoothing", "ema"])
    settings = cli.settings_from_args(args)
    assert settings == preset("seed").replace(seed=7, smoothing_method="ema")
    features_args = parser.parse_args(["features", "s.wav", "--band-mode", "seed", "--extra-detail", "0.5"])
    assert cli.settings_from_args(features_args) == DEFAULT_PIPELINE.replace(band_mode="seed", extra_detail=0.5)
