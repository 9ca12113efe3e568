"""Writes tests/data/comfyui-0.3.64-object_info-fingerprints.json from a recorded ComfyUI ``/object_info``.

    python scripts/fingerprint_object_info.py RECORDED_OBJECT_INFO.json

The recording (500 KB, every node of a ComfyUI 0.3.64 CPU server) lives outside the repository; the fingerprints
(one SHA-256 per node type of its canonical JSON) let tests/test_workflows.py check on a fresh clone that the
trimmed core node list in tests/data is exactly what that server reported.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "comfyui-0.3.64-object_info-fingerprints.json"


def node_fingerprint(info: dict) -> str:
    """SHA-256 hex digest of one node's /object_info entry as canonical JSON (sorted keys, no spaces)."""
    return hashlib.sha256(json.dumps(info, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


def main(argv: list[str]) -> int:
    recorded = json.loads(Path(argv[0]).read_text())
    fingerprints = {name: node_fingerprint(info) for name, info in sorted(recorded.items())}
    OUTPUT.write_text(json.dumps({"comfyui": "0.3.64", "device": "cpu", "node_count": len(fingerprints),
                                  "sha256_of_canonical_node_json": fingerprints}, indent=0) + "\n")
    print(f"wrote {OUTPUT} ({len(fingerprints)} node types)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
