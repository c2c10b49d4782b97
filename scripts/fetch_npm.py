"""Fetch one file of a pinned npm package from the npm registry, checking the tarball's integrity hash.

    python3 scripts/fetch_npm.py mermaid 12.3.0 package/dist/mermaid.min.js tests/.cache/mermaid.min.js

The browser tests use real JavaScript libraries (Mermaid renders our diagrams, axe-core audits the page)
without Node: the file is loaded into Chromium. Re-running skips a file that is already there.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"


def fetch(package: str, version: str, member: str, dest: Path) -> None:
    if dest.is_file():
        return
    with urllib.request.urlopen(f"{REGISTRY}/{package}/{version}", timeout=60) as r:  # noqa: S310 - https, fixed
        dist = json.load(r)["dist"]
    with urllib.request.urlopen(dist["tarball"], timeout=300) as r:  # noqa: S310 - its integrity is checked
        data = r.read()
    algo, _, expected = dist["integrity"].partition("-")
    if base64.b64encode(hashlib.new(algo, data).digest()).decode() != expected:
        sys.exit(f"fetch_npm: {package}@{version}: the tarball does not match the registry's {algo} hash")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        content = tar.extractfile(member).read()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part")
    tmp.write_bytes(content)
    tmp.replace(dest)
    print(f"fetch_npm: {package}@{version} {member} -> {dest}")


if __name__ == "__main__":
    fetch(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]))
