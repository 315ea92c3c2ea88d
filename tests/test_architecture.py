"""The arrows point inward: the engine imports nothing of FastAPI, Twilio, Vosk or the clock."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "ivr"
PURE = [ROOT / "flow", ROOT / "guard"]
FORBIDDEN = ("fastapi", "starlette", "twilio", "vosk", "pydub", "sqlalchemy", "uvicorn",
             "time", "ivr.telephony", "ivr.speech", "ivr.store", "ivr.web", "ivr.app")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_engine_and_guards_import_no_adapter_or_clock() -> None:
    files = [p for folder in PURE for p in folder.rglob("*.py")]
    assert len(files) >= 8
    for path in files:
        for name in _imports(path):
            bad = [f for f in FORBIDDEN if name == f or name.startswith(f + ".")]
            assert not bad, f"{path.relative_to(ROOT.parent)} imports {name}"


def test_engine_never_reads_the_clock() -> None:
    for folder in PURE:
        for path in folder.rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert ".now(" not in text and "utcnow" not in text and "today()" not in text, path
