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


def _modules_under(folder: Path) -> dict[Path, set[str]]:
    return {path: _imports(path) for path in folder.rglob("*.py")}


def _offenders(folder: Path, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{path.relative_to(ROOT.parent)} imports {name}"
            for path, names in _modules_under(folder).items() for name in names
            if any(name == f or name.startswith(f + ".") for f in forbidden)]


def test_the_web_layer_knows_no_telephony_provider() -> None:
    # The console reaches calls through the gateway and the neutral stream pump, never Twilio's.
    assert _offenders(ROOT / "web", ("ivr.telephony.twilio", "twilio")) == []


def test_telephony_does_not_reach_back_into_the_app_or_the_web() -> None:
    assert _offenders(ROOT / "telephony", ("ivr.app", "ivr.web", "ivr.cli")) == []


def test_the_guards_do_not_import_the_engine_that_runs_them() -> None:
    # CallState lives in ivr.flow.state, so there is no engine <-> guard import circle.
    assert _offenders(ROOT / "guard", ("ivr.flow.engine",)) == []


def test_the_simulator_and_local_server_are_not_in_the_runtime_package() -> None:
    assert not (ROOT / "telephony" / "twilio" / "simulator.py").exists()
    assert not (ROOT / "telephony" / "local.py").exists()
    # Only the `ivr call --twilio` command uses them, and only when asked.
    users = {str(p.relative_to(ROOT)) for p, names in _modules_under(ROOT).items()
             if any(n == "testkit" or n.startswith("testkit.") for n in names)}
    assert users == {"cli.py"}
