"""Registry metadata (issue 18): what the Comfy registry reads from pyproject.toml is there, in its formats, and the
runtime dependencies are declared alike for the registry (pyproject) and ComfyUI-Manager (requirements.txt)."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

import pytest

from support import REPO_ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# comfy-cli's rule for requires-comfyui parts: [operator]major.minor.patch[-suffix] (registry/config_parser.py)
VERSION_PART = re.compile(r"^(?:(==|>=|<=|!=|~=|>|<|<>|=)\s*)?(\d+\.\d+\.\d+(?:-[a-zA-Z0-9]+)?)?$")


def requirement_lines() -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in (REPO_ROOT / "requirements.txt").read_text().splitlines())
    return [line for line in lines if line]


def test_runtime_dependencies_are_static_and_equal_to_requirements_txt():
    project = PYPROJECT["project"]
    assert "dependencies" not in project.get("dynamic", [])
    assert sorted(project["dependencies"]) == sorted(requirement_lines())
    names = {re.split(r"[<>=!~ \[]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]}
    assert not names & {"pytorch-pretrained-biggan", "boto3", "botocore", "requests", "comfy-cli", "pytest"}


def test_registry_fields_are_in_the_formats_the_registry_takes():
    project, comfy = PYPROJECT["project"], PYPROJECT["tool"]["comfy"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])
    assert "comfyui" not in project["name"].lower()
    parts = [part.strip() for part in comfy["requires-comfyui"].split(",")]
    assert len(parts) == 2 and all(VERSION_PART.match(part) for part in parts), parts
    assert comfy["PublisherId"] and comfy["DisplayName"]
    repository = project["urls"]["Repository"]
    owner_and_name = repository.removeprefix("https://github.com/")
    assert comfy["Icon"] == f"https://raw.githubusercontent.com/{owner_and_name}/main/docs/icon.svg"


def test_the_icon_is_a_small_square_svg():
    icon = REPO_ROOT / "docs" / "icon.svg"
    assert icon.stat().st_size < 4096
    root = ElementTree.fromstring(icon.read_text(encoding="utf-8"))
    assert root.tag.endswith("svg")
    width, height = root.get("width"), root.get("height")
    assert width == height and int(width) <= 400  # the registry takes at most 800 x 400 px
    _, _, box_width, box_height = (float(v) for v in root.get("viewBox").split())
    assert box_width == box_height


def test_comfy_cli_reads_the_metadata_as_published():
    """comfy-cli (the dev extra) parses pyproject.toml as `comfy node publish` does."""
    parser = pytest.importorskip("comfy_cli.registry.config_parser")
    config = parser.extract_node_configuration(str(REPO_ROOT / "pyproject.toml"))
    assert config.project.name == "audiowalk"
    assert config.project.supported_comfyui_version == PYPROJECT["tool"]["comfy"]["requires-comfyui"]
    assert sorted(config.project.dependencies) == sorted(requirement_lines())
    assert config.tool_comfy.icon.endswith("/docs/icon.svg")


def test_the_package_version_is_the_registry_version():
    import audiowalk_core

    assert audiowalk_core.__version__ == PYPROJECT["project"]["version"]
