"""The module maps (#37): each package's docstring maps its rooms, and a newcomer trusts it only while it is
complete and current. Every module of ``explorer`` is named in its map and every name in the map is a module
that exists; every top-level module and folder of the app and every handler module are named in the app's."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _map(package: str) -> str:
    return ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text())) or ""


def _modules(folder: Path, recursive: bool = True) -> set[str]:
    found = folder.rglob("*.py") if recursive else folder.glob("*.py")
    return {p.name for p in found if p.name not in ("__init__.py", "__main__.py")}


def test_the_librarys_map_names_every_module_and_only_those() -> None:
    named = set(re.findall(r"\b([a-z_0-9]+\.py)\b", _map("explorer")))
    modules = _modules(ROOT / "explorer")
    assert not modules - named, f"modules the map does not name: {sorted(modules - named)}"
    assert not named - modules, f"names in the map that are no module: {sorted(named - modules)}"
    folders = {p.name for p in (ROOT / "explorer").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert all(f"{f}/" in _map("explorer") for f in folders), folders


def test_the_apps_map_names_its_modules_folders_and_handlers() -> None:
    text = _map("resnet_explorer")
    root = ROOT / "resnet_explorer"
    missing = [m for m in _modules(root, recursive=False) if m not in text]
    missing += [f"{p.name}/" for p in root.iterdir()
                if p.is_dir() and p.name != "__pycache__" and f"{p.name}/" not in text]
    handlers = text[text.index("handlers/"):text.index("html.py")]
    missing += [f"handlers/{m}" for m in _modules(root / "handlers") if Path(m).stem not in handlers]
    assert not missing, missing
