"""Engine actions as TwiML, built with the twilio SDK's builder (never hand-written XML)."""

from __future__ import annotations

from twilio.twiml.voice_response import Connect, Dial, Gather, VoiceResponse

from ivr.flow import events as ev


class TwimlBuilder:
    """Builds the documents the webhooks return; `url(path)` makes absolute callback URLs."""

    def __init__(self, base_url: str, stream_url: str) -> None:
        self.base = base_url.rstrip("/")
        self.stream_url = stream_url

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def answer(self, disclosure: ev.Say, flow_name: str, fallback: ev.Transfer | None) -> str:
        """Disclosure first (key 0 already works during it), then the media stream, then a
        <Dial> fallback: if our side of the stream breaks, the caller still reaches a person."""
        response = VoiceResponse()
        gather = Gather(input="dtmf", num_digits=1, timeout=1, action=self.url("/twilio/key"),
                        action_on_empty_result=False)
        self._say(gather, disclosure)
        response.append(gather)
        self._connect(response, flow_name)
        if fallback is not None:
            self._dial(response, fallback, 0)
        return str(response)

    def stream(self, flow_name: str, first_key: str | None = None) -> str:
        """Just the media stream (after a key pressed during the disclosure)."""
        response = VoiceResponse()
        self._connect(response, flow_name)
        return str(response)

    def actions(self, actions: list[ev.Action], attempt: int = 0) -> str:
        """Prompts, then the call's next move: dial people, record a message, or hang up."""
        response = VoiceResponse()
        for action in actions:
            if isinstance(action, ev.Say):
                self._say(response, action)
            elif isinstance(action, ev.Transfer):
                self._dial(response, action, attempt)
            elif isinstance(action, ev.Voicemail):
                response.record(action=self.url("/twilio/recorded"), max_length=action.max_seconds,
                                play_beep=True, timeout=5,
                                recording_status_callback=self.url("/twilio/recording"),
                                recording_status_callback_event="completed")
            elif isinstance(action, ev.Hangup):
                response.hangup()
        return str(response)

    def whisper(self, summary: str, language: str) -> str:
        """What the person answering hears before being connected: why the caller is there,
        then 1 to take the call; anything else (or nothing) declines, and the next person rings."""
        response = VoiceResponse()
        gather = Gather(input="dtmf", num_digits=1, timeout=6, action=self.url("/twilio/whisper-answer"),
                        action_on_empty_result=True)
        gather.say(f"{summary} Press 1 to take the call.", language=language)
        response.append(gather)
        response.hangup()
        return str(response)

    def _say(self, parent: VoiceResponse | Gather, say: ev.Say) -> None:
        if say.audio:
            parent.play(self.url(f"/audio/{say.audio.removeprefix('audio/')}"))
        else:
            parent.say(say.text, language=say.language)

    def _connect(self, response: VoiceResponse, flow_name: str) -> None:
        connect = Connect(action=self.url("/twilio/connected"))
        stream = connect.stream(url=self.stream_url)
        stream.parameter(name="flow", value=flow_name)
        response.append(connect)

    def _dial(self, response: VoiceResponse, transfer: ev.Transfer, attempt: int) -> None:
        people = transfer.people
        numbers = people.numbers if people.ring == "simultaneous" else people.numbers[attempt:attempt + 1]
        dial = Dial(action=self.url(f"/twilio/dial-status?attempt={attempt}"), timeout=people.timeout,
                    answer_on_bridge=True)
        for number in numbers:
            dial.number(number, url=self.url("/twilio/whisper"))
        response.append(dial)
