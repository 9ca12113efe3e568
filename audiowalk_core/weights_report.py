"""How a model file's weights differ from an architecture, in words, for the errors of strict loading."""
from __future__ import annotations


def mismatch_parts(missing: list, unexpected: list, wrong_shape: list, file_shapes: dict, model_shapes: dict,
                   noun: str = "keys") -> list[str]:
    """Phrases such as "2 missing keys (e.g. a, b)", "1 unexpected keys (...)", "1 keys of the wrong shape (e.g. w:
    file (3,), model (4,))" for the non-empty sorted lists; ``*_shapes`` map names to shapes."""
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing {noun} (e.g. {', '.join(missing[:3])})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected {noun} (e.g. {', '.join(map(str, unexpected[:3]))})")
    if wrong_shape:
        key = wrong_shape[0]
        parts.append(f"{len(wrong_shape)} {noun} of the wrong shape (e.g. {key}: file {tuple(file_shapes[key])}, "
                     f"model {tuple(model_shapes[key])})")
    return parts
