"""Engine actions as TwiML, built with the twilio SDK's builder (never hand-written XML)."""

from __future__ import annotations

from collections.abc import Callable

from twilio.twiml.voice_response import Connect, Dial, Gather, VoiceResponse

from ivr.flow import events as ev
from ivr.flow.summary import accept_prompt

# The URL of a prompt's audio rendered here, when its voice is a neural one (else Twilio's own
# <Say> voice, which beats espeak-ng), given the prompt and the flow's voice.
PromptUrl = Callable[[ev.PlayPrompt, str | None], str | None]


class TwimlBuilder:
    """Builds the documents the webhooks return; `url(path)` makes absolute callback URLs."""

    def __init__(self, base_url: str, stream_url: str, prompt_url: PromptUrl | None = None,
                 stream_token: Callable[[str], str] | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.stream_url = stream_url
        self.prompt_url = prompt_url
        self.stream_token = stream_token

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def answer(self, flow_name: str, call_sid: str = "") -> str:
        """The media stream at once: the gateway plays the disclosure over it and hears the
        caller from the first second. If the stream fails, the <Connect action> answers with
        `disclosure_then` (Twilio runs no verb after a <Connect> that has an action)."""
        response = VoiceResponse()
        self._connect(response, flow_name, call_sid)
        return str(response)

    def disclosure_then(self, disclosure: ev.PlayPrompt, actions: list[ev.Action],
                        voice: str | None = None) -> str:
        """When the stream never played the disclosure: say it now by TwiML (key 0 already
        works during it), then the caller's next move (a person, after a fault)."""
        response = VoiceResponse()
        gather = Gather(input="dtmf", num_digits=1, timeout=1, action=self.url("/twilio/key"),
                        action_on_empty_result=False)
        self._say(gather, disclosure, voice)
        response.append(gather)
        return self._append(response, actions, 0, voice)

    def actions(self, actions: list[ev.Action], attempt: int = 0, voice: str | None = None) -> str:
        """Prompts (in the flow's `voice`), then the call's next move: dial people, record a
        message, or hang up."""
        return self._append(VoiceResponse(), actions, attempt, voice)

    def _append(self, response: VoiceResponse, actions: list[ev.Action], attempt: int,
                voice: str | None = None) -> str:
        for action in actions:
            if isinstance(action, ev.PlayPrompt):
                self._say(response, action, voice)
            elif isinstance(action, ev.HandOver):
                self._dial(response, action, attempt)
            elif isinstance(action, ev.TakeMessage):
                response.record(action=self.url("/twilio/recorded"), max_length=action.max_seconds,
                                play_beep=True, timeout=5,
                                recording_status_callback=self.url("/twilio/recording"),
                                recording_status_callback_event="completed")
            elif isinstance(action, ev.EndCall):
                response.hangup()
        return str(response)

    def whisper(self, summary: str, language: str, attempt: int = 0, audio_url: str | None = None) -> str:
        """What the person answering hears before being connected: why the caller is there,
        then 1 to take the call; anything else (or nothing) declines, and the next person rings.
        `audio_url`: the same words rendered here (`whisper_text`), in a neural voice."""
        response = VoiceResponse()
        gather = Gather(input="dtmf", num_digits=1, timeout=6, action_on_empty_result=True,
                        action=self.url(f"/twilio/whisper-answer?attempt={attempt}"))
        if audio_url:
            gather.play(audio_url)
        else:
            gather.say(whisper_text(summary, language), language=language)
        response.append(gather)
        response.hangup()
        return str(response)

    def _say(self, parent: VoiceResponse | Gather, say: ev.PlayPrompt, voice: str | None = None) -> None:
        rendered = self.prompt_url(say, voice) if self.prompt_url and not say.audio else None
        if say.audio:
            parent.play(self.url(f"/audio/{say.audio.removeprefix('audio/')}"))
        elif rendered:
            parent.play(rendered)
        else:
            parent.say(say.text, language=say.language)

    def _connect(self, response: VoiceResponse, flow_name: str, call_sid: str) -> None:
        connect = Connect(action=self.url("/twilio/connected"))
        stream = connect.stream(url=self.stream_url)
        stream.parameter(name="flow", value=flow_name)
        if self.stream_token is not None:  # Twilio's <Stream> URL takes no query: a <Parameter>
            stream.parameter(name="token", value=self.stream_token(call_sid))
        response.append(connect)

    def _dial(self, response: VoiceResponse, transfer: ev.HandOver, attempt: int) -> None:
        people = transfer.people
        numbers = people.numbers if people.ring == "simultaneous" else people.numbers[attempt:attempt + 1]
        dial = Dial(action=self.url(f"/twilio/dial-status?attempt={attempt}"), timeout=people.timeout,
                    answer_on_bridge=True)
        for number in numbers:
            dial.number(number, url=self.url(f"/twilio/whisper?attempt={attempt}"))
        response.append(dial)


def whisper_text(summary: str, language: str) -> str:
    """The words of the whisper: why the caller is there, then how to take the call."""
    return f"{summary} {accept_prompt(language)}"
