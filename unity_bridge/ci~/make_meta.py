"""Create the Unity .meta files of the package (deterministic GUIDs), or check they are complete.

Unity ignores assets without a .meta file in immutable packages (installed from a git URL or a
registry), so every file and folder Unity imports needs one in the repository. Folders ending
in ``~`` and dot-files are not imported and get none.

    python unity_bridge/ci~/make_meta.py          # write missing .meta files
    python unity_bridge/ci~/make_meta.py --check  # exit 1 listing missing or orphaned ones
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

BRIDGE = Path(__file__).resolve().parents[1]

FOLDER = "fileFormatVersion: 2\nguid: {guid}\nfolderAsset: yes\nDefaultImporter:\n  externalObjects: {{}}\n  userData: \n  assetBundleName: \n  assetBundleVariant: \n"
SCRIPT = "fileFormatVersion: 2\nguid: {guid}\nMonoImporter:\n  externalObjects: {{}}\n  serializedVersion: 2\n  defaultReferences: []\n  executionOrder: 0\n  icon: {{instanceID: 0}}\n  userData: \n  assetBundleName: \n  assetBundleVariant: \n"
ASMDEF = "fileFormatVersion: 2\nguid: {guid}\nAssemblyDefinitionImporter:\n  externalObjects: {{}}\n  userData: \n  assetBundleName: \n  assetBundleVariant: \n"
PACKAGE = "fileFormatVersion: 2\nguid: {guid}\nPackageManifestImporter:\n  externalObjects: {{}}\n  userData: \n  assetBundleName: \n  assetBundleVariant: \n"
TEXT = "fileFormatVersion: 2\nguid: {guid}\nTextScriptImporter:\n  externalObjects: {{}}\n  userData: \n  assetBundleName: \n  assetBundleVariant: \n"


def imported(path: Path) -> bool:
    rel = path.relative_to(BRIDGE)
    return (
        not any(p.endswith("~") or p.startswith(".") for p in rel.parts) and path.suffix != ".meta"
    )


def assets() -> list[Path]:
    return sorted(p for p in BRIDGE.rglob("*") if imported(p))


def meta_text(path: Path) -> str:
    guid = hashlib.md5(
        f"com.vtuber.bridge/{path.relative_to(BRIDGE).as_posix()}".encode()
    ).hexdigest()
    if path.is_dir():
        template = FOLDER
    elif path.suffix == ".cs":
        template = SCRIPT
    elif path.suffix == ".asmdef":
        template = ASMDEF
    elif path.name == "package.json":
        template = PACKAGE
    else:
        template = TEXT
    return template.format(guid=guid)


def problems() -> list[str]:
    found = []
    for path in assets():
        if not Path(f"{path}.meta").is_file():
            found.append(f"missing {path.relative_to(BRIDGE)}.meta")
    for meta in BRIDGE.rglob("*.meta"):
        target = meta.with_suffix("")
        if imported(target) and not target.exists():
            found.append(f"orphaned {meta.relative_to(BRIDGE)}")
    return found


def main(argv: list[str]) -> int:
    if "--check" in argv:
        found = problems()
        for line in found:
            print(line)
        return 1 if found else 0
    for path in assets():
        meta = Path(f"{path}.meta")
        if not meta.exists():
            meta.write_text(meta_text(path), encoding="utf-8")
            print(f"wrote {meta.relative_to(BRIDGE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
