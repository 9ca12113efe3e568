"""The pipeline settings as command-line flags: one flag per setting of audiowalk_core.settings (``audiowalk render``,
``audiowalk features``), and the PipelineSettings the parsed flags give over a preset."""
from __future__ import annotations

from audiowalk_core.settings import SETTINGS, preset


def add_setting_flags(parser, settings) -> None:
    """One flag per pipeline setting (audiowalk_core.settings: flag, type, choices, help, default). The parsed value
    is None when the flag is not given, so a preset's value stands (:func:`settings_from_args`)."""
    for item in settings:
        parser.add_argument(item.flag, dest=item.name, default=None, type=item.python_type,
                            choices=item.choices or None,
                            metavar=None if item.choices else {"INT": "N", "FLOAT": "X"}.get(item.kind, "TEXT"),
                            help=f"{item.help.rstrip('.')} (default {item.default})".replace("%", "%%"))


def settings_from_args(args, base=None):
    """PipelineSettings: ``base`` (default: the --preset's, else the defaults) with every setting flag given."""
    base = base or preset(getattr(args, "preset", "default"))
    given = {item.name: item.coerce(getattr(args, item.name)) for item in SETTINGS
             if getattr(args, item.name, None) is not None}
    return base.replace(**given)
