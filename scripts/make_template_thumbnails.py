#!/usr/bin/env python3
"""Write each shipped template's thumbnail (workflows/<name>.jpg, the template browser's card picture) from the real
ComfyUI frontend: start ComfyUI (the integration tests' harness: a temporary base folder with this pack linked in),
open every template in headless Chromium at 1600x1000 as the template browser opens it (its saved view), take the
canvas below the menu and the workflow tabs, and save it 512 px wide as JPEG.

    COMFYUI_DIR=/path/to/ComfyUI [COMFYUI_PYTHON=/path/to/comfy-venv/bin/python] \\
        .venv/bin/python scripts/make_template_thumbnails.py [--out workflows]
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))  # the harness (never the repo root: see DESIGN.md)

WIDTH, HEIGHT = 1600, 1000
CANVAS_BOX = (40, 80, WIDTH, HEIGHT)  # right of the side bar, below the menu bar and the workflow tabs
THUMB_WIDTH, QUALITY = 512, 82


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "workflows", help="folder for the .jpg files")
    args = parser.parse_args(argv)
    from PIL import Image

    from comfy_harness import ComfyServer, HeadlessFrontend, make_biggan

    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        make_biggan(base)
        with ComfyServer(base) as server:
            frontend = HeadlessFrontend(server.address, base / "chromium-profile")
            try:
                frontend.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT, deviceScaleFactor=1,
                              mobile=False)
                frontend.evaluate("(async () => { await window.app.extensionManager.setting.set("
                                  "'Comfy.TutorialCompleted', true); })()")
                frontend.evaluate("document.querySelectorAll('.p-dialog-close-button').forEach(b => b.click())")
                for ui_path in sorted((REPO_ROOT / "workflows").glob("*.json")):
                    frontend.evaluate(f"(async () => {{ await window.app.loadGraphData({ui_path.read_text()}); }})()")
                    time.sleep(2)
                    shot = frontend.screenshot(base / "shot.png", WIDTH, HEIGHT)
                    image = Image.open(shot).convert("RGB").crop(CANVAS_BOX)
                    height = round(image.height * THUMB_WIDTH / image.width)
                    buffer = io.BytesIO()
                    image.resize((THUMB_WIDTH, height), Image.LANCZOS).save(buffer, "JPEG", quality=QUALITY,
                                                                           optimize=True)
                    target = args.out / f"{ui_path.stem}.jpg"
                    tmp = target.with_name(target.name + ".tmp")
                    tmp.write_bytes(buffer.getvalue())
                    tmp.replace(target)
                    print(f"wrote {target} ({THUMB_WIDTH}x{height}, {len(buffer.getvalue()) // 1024} KB)")
            finally:
                frontend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
