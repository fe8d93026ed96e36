#!/usr/bin/env python3
"""Copy the operator console's front-end dependencies from node_modules (installed by `npm ci` from
package-lock.json) into the repository: uPlot and Swagger UI into the Python package, so `pip install` and
the image serve them and nothing is fetched from another host; axe-core (for the accessibility test only)
into tests/support/vendor. Run after changing a version in package.json; tests/console/test_api.py fails
while a copy differs from node_modules or its version from package-lock.json.

    python3 scripts/vendor-web-assets.py [--node-modules PATH]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_VENDOR = ROOT / "src/gridos/web/static/vendor"
TEST_VENDOR = ROOT / "tests/support/vendor"
# package -> (where its copies go, files copied: source path inside the package)
ASSETS: dict[str, tuple[Path, list[str]]] = {
    "uplot": (PACKAGE_VENDOR, ["dist/uPlot.iife.min.js", "dist/uPlot.min.css", "LICENSE"]),
    "swagger-ui-dist": (PACKAGE_VENDOR, ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"]),
    "axe-core": (TEST_VENDOR, ["axe.min.js", "LICENSE"]),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--node-modules", type=Path, default=ROOT / "node_modules")
    args = parser.parse_args()
    lock = json.loads((ROOT / "package-lock.json").read_text())
    manifests: dict[Path, dict[str, dict[str, object]]] = {}
    for package, (vendor, paths) in ASSETS.items():
        source = args.node_modules / package
        version = json.loads((source / "package.json").read_text())["version"]
        locked = lock["packages"][f"node_modules/{package}"]["version"]
        if version != locked:
            print(f"{source} is {version}, package-lock.json says {locked}: run npm ci", file=sys.stderr)
            return 1
        target = vendor / package
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
        manifests.setdefault(vendor, {})[package] = {"version": version, "files": files}
    for vendor, manifest in manifests.items():
        (vendor / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        names = ", ".join(f"{p} {m['version']}" for p, m in manifest.items())
        print(f"vendored {names} into {vendor.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
