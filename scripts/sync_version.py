"""Writes the one project version (workspace Cargo.toml) into the Python and JS packages."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    version = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["version"]
    py = ROOT / "host-python" / "agentcell" / "_version.py"
    text = py.read_text()
    py.write_text(re.sub(r'__version__ = "[^"]*"', f'__version__ = "{version}"', text))
    pkg_path = ROOT / "host-js" / "package.json"
    pkg = json.loads(pkg_path.read_text())
    pkg["version"] = version
    pkg_path.write_text(json.dumps(pkg, indent=2) + "\n")
    print(f"version {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
