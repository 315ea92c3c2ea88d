"""Recorded prompts uploaded in the console: converted to 8 kHz, loudness-normalised and
trimmed with pydub, saved under audio/<flow>/, and named in a new draft of the flow."""

from __future__ import annotations

import io
import re
import warnings
from typing import Any

from ruamel.yaml import YAML

from ivr.errors import IvrError
from ivr.flow.model import STEP_ID
from ivr.web.flow_admin import FlowAdmin

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment, effects, silence

MAX_BYTES = 10 * 1024 * 1024
FORMATS = {"wav", "mp3", "m4a", "ogg"}


class UploadError(IvrError):
    """An upload that is not usable audio."""


async def save_prompt(admin: FlowAdmin, flow: str, step: str, upload: Any, user: str) -> int:
    """Convert and store the file; return the new draft's version number. Nothing is written
    before the flow and the step are known, and the file lands in audio/<flow>/ only."""
    latest = admin.versions.latest(flow)
    if latest is None:
        raise UploadError(f"no flow {flow}")
    text = _with_audio(latest["yaml"], step, f"audio/{flow}/{step}.wav")  # an unknown step fails here
    folder = (admin.gateway.settings.audio_dir / flow).resolve()
    target = (folder / f"{step}.wav").resolve()
    if not re.fullmatch(STEP_ID, step) or target.parent != folder \
            or admin.gateway.settings.audio_dir.resolve() not in folder.parents:
        raise UploadError(f"{step!r} is not a step name (letters, digits, _ and -)")
    name = str(getattr(upload, "filename", "") or "")
    kind = name.rsplit(".", 1)[-1].lower()
    if kind not in FORMATS:
        raise UploadError(f"upload a {', '.join(sorted(FORMATS))} file")
    data = await upload.read()
    if len(data) > MAX_BYTES:
        raise UploadError("the file is over 10 MB")
    try:
        segment = AudioSegment.from_file(io.BytesIO(data), format="mp4" if kind == "m4a" else kind)
    except Exception as exc:  # pydub/ffmpeg raise many kinds for bad audio
        raise UploadError(f"not readable audio: {exc}") from exc
    segment = _prepare(segment)
    target.parent.mkdir(parents=True, exist_ok=True)
    segment.export(str(target), format="wav").close()  # pydub returns the file still open
    return admin.versions.add(flow, text, user, "draft", note=f"record prompt for {step}")


def _prepare(segment: Any) -> Any:
    segment = segment.set_channels(1).set_frame_rate(8000).set_sample_width(2)
    segment = effects.normalize(segment, headroom=3.0)
    spans = silence.detect_nonsilent(segment, min_silence_len=200, silence_thresh=segment.dBFS - 25)
    if spans:
        segment = segment[max(0, spans[0][0] - 100): spans[-1][1] + 150]
    return segment


def _with_audio(text: str, step: str, relative: str) -> str:
    """The same YAML, comments kept, with `audio:` set on one step (or the disclosure)."""
    yaml = YAML()
    yaml.preserve_quotes = True
    data = yaml.load(text)
    target = data["disclosure"] if step == "disclosure" else data["steps"].get(step)
    if target is None or "text" not in target:
        raise UploadError(f"no step {step!r} with a prompt in this flow")
    target["audio"] = relative
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()
