#!/usr/bin/env python3
"""Copy the operator console's front-end dependencies from node_modules (installed by `npm ci` from
package-lock.json) into the Python package, so `pip install` and the image serve them and nothing is
fetched from another host. Run after changing a version in package.json; tests/console/test_assets.py
fails while the copies differ from node_modules or their versions from package-lock.json.

    python3 scripts/vendor-web-assets.py
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "src/gridos/web/static/vendor"
# package -> files copied (source path inside the package: name in vendor/<package>/)
ASSETS: dict[str, list[str]] = {
    "uplot": ["dist/uPlot.iife.min.js", "dist/uPlot.min.css", "LICENSE"],
    "swagger-ui-dist": ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"],
}


def main() -> int:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    manifest: dict[str, dict[str, object]] = {}
    for package, paths in ASSETS.items():
        source = ROOT / "node_modules" / package
        version = json.loads((source / "package.json").read_text())["version"]
        locked = lock["packages"][f"node_modules/{package}"]["version"]
        if version != locked:
            print(f"node_modules/{package} is {version}, package-lock.json says {locked}: run npm ci", file=sys.stderr)
            return 1
        target = VENDOR / package
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        files = {}
        for rel in paths:
            dest = target / Path(rel).name
            shutil.copyfile(source / rel, dest)
            # Sizes, not digests: the secret scanner takes hex digests for keys. The test compares the bytes
            # with node_modules itself.
            files[Path(rel).name] = {"from": rel, "bytes": dest.stat().st_size}
        manifest[package] = {"version": version, "files": files}
    (VENDOR / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    names = ", ".join(f"{p} {m['version']}" for p, m in manifest.items())
    print(f"vendored {names} into {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
