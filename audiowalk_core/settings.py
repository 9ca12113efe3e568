"""Every setting of the walk pipeline, declared once: default, range, choices, tooltip, widget and CLI flag.

One :class:`Setting` per choice of the pipeline (song -> features -> noise walk + class schedule -> latents ->
smoothing). Everything else reads this table:

- the nodes' ``INPUT_TYPES`` (:func:`node_inputs`) and the node methods (:func:`settings_from_widgets`);
- :class:`PipelineSettings`, the dataclass ``audiowalk render`` and the shipped workflows use (one field per
  setting, built from the table, same names);
- the CLI flags of ``audiowalk render`` / ``audiowalk features`` (``audiowalk_tools.cli`` adds one flag per
  setting from :attr:`Setting.cli_flag` and :attr:`Setting.help`);
- the core step functions' keyword defaults (``analysis.compute_features``, ``walk.band_noise_walk``,
  ``classes.label_weights``, ``smoothing.smooth_latents``) through :data:`DEFAULTS`.

Names: a setting has ONE name (the PipelineSettings field, the CLI flag ``--name-with-dashes`` unless
``cli_flag`` says otherwise). A node's widget keeps the name saved workflows already use (``mode`` of Band Noise
Walk is the setting ``walk_mode``): that mapping is ``widget`` here, and the core step function of that node takes
the widget's name as its keyword (``band_noise_walk(mode=...)``), so each node's widget and its core function agree.
Widget order per node is the table's order (saved UI workflows store widget values by position).

:data:`PRESETS` are named sets of values over the defaults: ``seed`` is the notebook end to end (docs/presets.md).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

# The choices of the combo settings. The modules that implement them re-export these names.
BAND_MODES = ("improved", "seed", "seed_full_length")
WALK_MODES = ("improved", "seed")
CHAIN_ORDERS = ("lowest_correlation", "highest_correlation", "none")
SCHEDULE_MODES = ("interpolate", "chroma", "beats", "bars", "sections", "seed")
SMOOTHING_METHODS = ("ema", "gaussian", "none")
SMOOTHING_TARGETS = ("noise", "classes", "both")
BEAT_TRACKERS = ("dsp", "beat_this", "beat_this_small")

FEATURES_NODE = "AudioWalkAudioFeatures"
NOISE_NODE = "AudioWalkBandNoiseWalk"
CLASSES_NODE = "AudioWalkClassSchedule"
SMOOTH_NODE = "AudioWalkSmoothLatents"
SEED_MAX = 0xFFFFFFFFFFFFFFFF


@dataclass(frozen=True)
class Setting:
    """One pipeline setting. ``kind``: "INT", "FLOAT", "STRING" or "COMBO" (one of ``choices``). ``node``: the node
    class id whose widget it is; ``widget``: that widget's name ("" = ``name``). ``minimum``/``maximum``/``step``:
    the widget's range (None = none). ``options``: further widget options (``multiline``, ``control_after_generate``).
    ``cli_flag``: the flag of ``audiowalk render`` ("" = ``--`` + name with dashes); ``cli_help`` its help ("" = the
    tooltip). ``optional``: the widget is an optional input (a widget added after a release: a prompt saved in API
    format before it existed lacks it, and ComfyUI refuses a prompt that lacks a required input)."""

    name: str
    node: str
    kind: str
    default: object
    tooltip: str
    widget: str = ""
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple = ()
    options: dict = field(default_factory=dict)
    cli_flag: str = ""
    cli_help: str = ""
    optional: bool = False  # an "optional" input: API prompts saved before the widget existed still validate

    @property
    def widget_name(self) -> str:
        return self.widget or self.name

    @property
    def flag(self) -> str:
        return self.cli_flag or "--" + self.name.replace("_", "-")

    @property
    def help(self) -> str:
        return self.cli_help or self.tooltip

    @property
    def python_type(self) -> type:
        return {"INT": int, "FLOAT": float}.get(self.kind, str)

    def input_type(self) -> tuple:
        """The ComfyUI ``INPUT_TYPES`` entry of the widget."""
        spec = {"default": self.default}
        for key, value in (("min", self.minimum), ("max", self.maximum), ("step", self.step)):
            if value is not None:
                spec[key] = value
        spec.update(self.options)
        spec["tooltip"] = self.tooltip
        return (list(self.choices) if self.kind == "COMBO" else self.kind, spec)

    def coerce(self, value):
        """A widget or CLI value as the setting's type (INT seeds from JSON floats, fps "30 " -> "30")."""
        if self.kind == "INT":
            return int(value)
        if self.kind == "FLOAT":
            return float(value)
        return str(value).strip() if self.name == "fps" else value


_SEED_BANDS = "seed mode: "
SETTINGS: tuple[Setting, ...] = (
    # Audio Features
    Setting("fps", FEATURES_NODE, "STRING", "30",
            "Video frame rate, exact: 30, 24, 25, 30000/1001 (or 29.97, read as 30000/1001), 24000/1001 ...",
            cli_help="frames per second, e.g. 30, 29.97 or 30000/1001"),
    Setting("band_mode", FEATURES_NODE, "COMBO", "improved",
            "improved: centred windows, log bands over the whole spectrum, normalised. seed: the notebook's "
            "one-second look-ahead softmax bands, exactly (uses the four parameters below; its frames end about a "
            "second before the song). seed_full_length: the same bands on the exact clock, as long as the song.",
            choices=BAND_MODES, cli_help="frequency bands: improved, or the seed notebook's (seed, seed_full_length)"),
    Setting("max_frequency_level", FEATURES_NODE, "FLOAT", 11000.0,
            _SEED_BANDS + "highest frequency (Hz) that feeds a band.", minimum=100.0, maximum=96000.0, step=1.0),
    Setting("low_frequency_skip", FEATURES_NODE, "FLOAT", 16.0,
            _SEED_BANDS + "first frequency (Hz) that feeds a band.", minimum=0.0, maximum=20000.0, step=1.0),
    Setting("frequency_band_growth_rate", FEATURES_NODE, "FLOAT", 1.01,
            _SEED_BANDS + "geometric growth of band width.", minimum=1.0001, maximum=2.0, step=0.001),
    Setting("extra_detail", FEATURES_NODE, "FLOAT", 0.9,
            _SEED_BANDS + "softmax temperature in [0, 1); near 0 the loudest frequency takes all weight, near 1 "
                          "all bands count alike.", minimum=0.0, maximum=0.999, step=0.01),
    Setting("band_count", FEATURES_NODE, "INT", 48, "improved mode: number of log-spaced bands.",
            minimum=1, maximum=512),
    Setting("beat_tracker", FEATURES_NODE, "COMBO", "dsp",
            "Where beats, downbeats and the meter come from. dsp: the pack's own tracker, no weights. beat_this: "
            "the Beat This! neural tracker (final0.ckpt, 81 MB, in models/beat_this; downloaded when missing and "
            "allowed), made for real mixes; on a 2-core CPU it costs 5-25 s per minute of song (a GPU is used when "
            "ComfyUI has one); beat_this_small: its small model (small0.ckpt, 8 MB). Computed once per song. "
            "Sections snap to the downbeats either way.",
            choices=BEAT_TRACKERS,
            cli_help="beats, downbeats and meter: dsp (no weights), beat_this or beat_this_small (the Beat This! "
                     "neural tracker; its checkpoint in $AUDIOWALK_HOME/models/beat_this, downloaded when missing)",
            optional=True),
    # Band Noise Walk
    Setting("seed", NOISE_NODE, "INT", 0,
            "Seed of every random draw; the same seed and inputs give the same walk.",
            minimum=0, maximum=SEED_MAX, options={"control_after_generate": True},
            cli_help="seed of every random draw"),
    Setting("walk_mode", NOISE_NODE, "COMBO", "improved", "improved (default) or the seed's walk.", widget="mode",
            choices=WALK_MODES, cli_help="noise walk: improved, or the seed notebook's"),
    Setting("truncation", NOISE_NODE, "FLOAT", 0.7,
            "BigGAN truncation in (0, 1]: lower is calmer and more typical, higher is more varied; also scales the "
            "noise vectors.", minimum=0.02, maximum=1.0, step=0.01),
    Setting("smoothing_factor", NOISE_NODE, "FLOAT", 0.1,
            "Mixing of neighbouring bands' noise vectors (1 = all the same).", minimum=0.0, maximum=1.0, step=0.01),
    Setting("iterations", NOISE_NODE, "INT", 1, "Passes of that mixing across the bands.", minimum=0, maximum=100),
    Setting("chain_order", NOISE_NODE, "COMBO", "lowest_correlation",
            "Order of the band vectors: lowest_correlation (what the seed did), highest_correlation (what it "
            "meant: smoother), none.", choices=CHAIN_ORDERS),
    Setting("pulse_strength", NOISE_NODE, "FLOAT", 0.6, "improved: how hard onsets kick the image.",
            minimum=0.0, maximum=5.0, step=0.05),
    Setting("motion_strength", NOISE_NODE, "FLOAT", 0.5, "improved: how far loudness makes the image drift.",
            minimum=0.0, maximum=5.0, step=0.05),
    # Class Schedule
    Setting("labels", CLASSES_NODE, "STRING", "teapot | bubble | mushroom",
            "ImageNet class names or indices separated by |, e.g. 'teapot | bubble | 947'. A single label is held "
            "for the whole song.", options={"multiline": False},
            cli_help="ImageNet classes, names or indices separated by ' | '"),
    Setting("class_mode", CLASSES_NODE, "COMBO", "interpolate",
            "interpolate: over the whole song; chroma: label j follows pitch class j (C, C#, ...); beats: switch "
            "every beats_per_switch beats; bars: every beats_per_switch bars (on downbeats); sections: each distinct "
            "song section (A, B ...) its own label, a repeat returns to it; seed: the notebook's label to label over "
            "ceil(song seconds x fps) frames (not the frames rendered).", widget="mode", choices=SCHEDULE_MODES,
            cli_help="class schedule: interpolate over the song, chroma, beats, bars, sections, or the seed notebook's"),
    Setting("beats_per_switch", CLASSES_NODE, "INT", 4, "beats mode: beats between label changes; bars mode: bars.",
            minimum=1, maximum=256),
    Setting("crossfade_frames", CLASSES_NODE, "INT", 8, "beats, bars, sections modes: frames of the fade from one label to the next.",
            minimum=0, maximum=1000),
    # Smooth Latents
    Setting("smoothing_method", SMOOTH_NODE, "COMBO", "ema",
            "ema: follows rises with the attack time and falls with the release time; gaussian: symmetric blur "
            "over time; none: unchanged (the seed notebook smooths nothing).", widget="method",
            choices=SMOOTHING_METHODS, cli_flag="--smoothing", cli_help="latent smoothing over time"),
    Setting("smoothing_target", SMOOTH_NODE, "COMBO", "noise", "What to smooth.", widget="target",
            choices=SMOOTHING_TARGETS, cli_help="what the latent smoothing smooths"),
    Setting("attack_frames", SMOOTH_NODE, "FLOAT", 1.0, "ema: time constant (frames) for rising values; 0 = instant.",
            minimum=0.0, maximum=1000.0, step=0.5),
    Setting("release_frames", SMOOTH_NODE, "FLOAT", 6.0, "ema: time constant (frames) for falling values.",
            minimum=0.0, maximum=1000.0, step=0.5),
    Setting("sigma_frames", SMOOTH_NODE, "FLOAT", 2.0, "gaussian: sigma in frames.",
            minimum=0.0, maximum=1000.0, step=0.5),
)
SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}
PIPELINE_NODES = (FEATURES_NODE, NOISE_NODE, CLASSES_NODE, SMOOTH_NODE)


def setting(name: str) -> Setting:
    return SETTINGS_BY_NAME[name]


def node_settings(node: str) -> tuple[Setting, ...]:
    """The settings a node shows, in widget order."""
    return tuple(s for s in SETTINGS if s.node == node)


def node_inputs(node: str, optional: bool | None = None) -> dict:
    """``{widget name: INPUT_TYPES entry}`` of a node's settings, in widget order; ``optional`` True / False: only
    the optional / required ones (None: all)."""
    return {s.widget_name: s.input_type() for s in node_settings(node)
            if optional is None or s.optional == optional}


def _replace(self, **changes) -> "PipelineSettings":
    """A copy with some settings changed (unknown names raise TypeError)."""
    return dataclasses.replace(self, **changes)


def _node_values(self) -> dict[str, dict]:
    """Widget values per node type of the shipped workflows (node class id -> {widget: value})."""
    return {node: {s.widget_name: getattr(self, s.name) for s in node_settings(node)} for node in PIPELINE_NODES}


PipelineSettings = dataclasses.make_dataclass(
    "PipelineSettings", [(s.name, s.python_type, field(default=s.default)) for s in SETTINGS], frozen=True,
    namespace={"replace": _replace, "node_values": _node_values, "__module__": __name__,
               "__doc__": "Every choice of the walk, one field per :data:`SETTINGS` entry (same name, same default). "
                          "Units: fps in frames/s, frequencies in Hz, smoothing times in frames. ``truncation`` is "
                          "the one truncation of the walk: it scales and clips the noise and is what BigGAN "
                          "receives."})

DEFAULTS = PipelineSettings()


def settings_from_widgets(node: str, widgets: dict, base=None, values: tuple = ()):
    """PipelineSettings from a node's widget values (widget names; absent ones keep ``base``'s, default DEFAULTS,
    as in a workflow saved before the widget existed). ``values``: widget values given by position, in widget
    order (a node method called positionally). Unknown widget names raise TypeError."""
    known = {s.widget_name: s for s in node_settings(node)}
    if len(values) > len(known):
        raise TypeError(f"{node} takes {len(known)} setting widgets, {len(values)} were given")
    positional = dict(zip(known, values))
    if set(positional) & set(widgets):
        raise TypeError(f"{node} got {', '.join(sorted(set(positional) & set(widgets)))} twice")
    widgets = {**positional, **widgets}
    unknown = sorted(set(widgets) - set(known))
    if unknown:
        raise TypeError(f"{node} has no setting widget(s) {', '.join(unknown)}")
    return (base or DEFAULTS).replace(**{known[w].name: known[w].coerce(v) for w, v in widgets.items()})


# The seed notebook end to end (docs/presets.md): its README demo values, which the figures in
# tests/data/seed_reference were made with (the notebook's own cell defaults differ: truncation 0.35, extra_detail
# 0.6, max_frequency_level 4292, frequency_band_growth_rate 1.015, smoothing_factor 0.34), its bands, walk, class
# schedule and frame count, and no smoothing over time.
PRESETS: dict[str, dict] = {
    "default": {},
    "seed": {"fps": "30", "band_mode": "seed", "max_frequency_level": 11000.0, "low_frequency_skip": 16.0,
             "frequency_band_growth_rate": 1.01, "extra_detail": 0.9, "walk_mode": "seed", "truncation": 0.7,
             "smoothing_factor": 0.1, "iterations": 2, "chain_order": "lowest_correlation",
             "labels": "teapot | bubble | mushroom", "class_mode": "seed", "smoothing_method": "none"},
}
# What a preset sets beyond the walk (render options of ``audiowalk render``; the node widgets are in
# docs/presets.md). The seed notebook renders biggan-deep-512, min-max normalises every frame on its own, and keeps
# the whole song under its shorter video (its last cell concatenates the video and the untouched music with ffmpeg,
# which ends each stream on its own).
PRESET_RENDER_OPTIONS: dict[str, dict] = {
    "default": {"model": "biggan-deep-128", "output_mapping": "fixed", "keep_whole_song": False},
    "seed": {"model": "biggan-deep-512", "output_mapping": "per_frame_minmax", "keep_whole_song": True},
}


# Where the render options of a preset are widgets in the BigGAN template: (node class id, widget, value mapping).
_RENDER_OPTION_WIDGETS = {
    "model": ("AudioWalkLoadBigGAN", "model_name", lambda value: value),
    "output_mapping": ("AudioWalkBigGANGenerate", "output_mapping", lambda value: value),
    "keep_whole_song": ("AudioWalkSaveVideo", "music_length", lambda keep: "whole song" if keep else "video"),
}


def preset_widgets(name: str) -> dict[str, dict]:
    """The widget values of a named preset in the BigGAN template: {node class id: {widget: value}}, the walk's
    settings (Audio Features, Band Noise Walk, Class Schedule, Smooth Latents) and the render options (Load
    BigGAN's model, BigGAN Generate's output mapping, Save Music Video's music length); docs/presets.md lists them."""
    values = preset(name).node_values()
    for option, value in PRESET_RENDER_OPTIONS[name].items():
        node, widget, to_widget = _RENDER_OPTION_WIDGETS[option]
        values.setdefault(node, {})[widget] = to_widget(value)
    return values


def preset(name: str):
    """The PipelineSettings of a named preset (AudioWalkInputError for an unknown name)."""
    from .errors import require_choice

    require_choice("preset", name, PRESETS)
    return DEFAULTS.replace(**PRESETS[name])
