"""Settings: one class, `IVR_` prefix, built once at start-up and passed in (tests build their own)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the gateway can be told from the environment; the defaults run a demo."""

    model_config = SettingsConfigDict(env_prefix="IVR_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = Field("", description="https://host as Twilio reaches it (behind a proxy)")
    flows_dir: Path = Path("flows")
    audio_dir: Path = Path("audio")
    default_flow: str = Field("", description="flow (file stem) for numbers no flow claims")
    database_url: str = Field("sqlite:///var/ivr.sqlite3",
                              description="SQLAlchemy URL; postgresql://... when instances share")
    vosk_model: str = Field("", description="a model folder, or lang=path pairs separated by commas")
    download_models: bool = Field(True, description="let Vosk download a model by language")
    twilio_auth_token: str = Field(
        "", validation_alias=AliasChoices("TWILIO_AUTH_TOKEN", "IVR_TWILIO_AUTH_TOKEN"))
    twilio_account_sid: str = Field(
        "", validation_alias=AliasChoices("TWILIO_ACCOUNT_SID", "IVR_TWILIO_ACCOUNT_SID"))
    handoff_webhook: str = Field("", description="URL that receives each handoff record (JSON)")
    handoff_secret: str = Field("", description="HMAC key for handoff URLs and webhooks; "
                                "defaults to one derived from the Twilio auth token")
    sms_from: str = Field("", description="Twilio number that texts on-call about emergency voicemails")
    twilio_api_base: str = Field("", description="another base URL for Twilio's REST API (tests)")
    recognizer_threads: int = Field(2, ge=1, description="threads running Vosk (one per core)")
    instance_name: str = Field("", description="this instance's name in the shared store "
                               "(default host:pid)")
    busy_signal: bool = Field(True, description="answer /health with 503 busy while recognition "
                              "queues, so the balancer sends new calls to another instance")
    reply_deadline_seconds: float = Field(4.0, gt=0, description="longest a caller's words wait "
                                          "for recognition (an overloaded instance) before a "
                                          "person takes the call")
    drain_seconds: float = Field(600.0, ge=0, description="on SIGTERM, how long live calls may "
                                 "run before the instance exits anyway")
    flow_poll_seconds: float = Field(2.0, gt=0, description="how often flows published on "
                                     "another instance are looked for")
    keep_transcripts_days: int = Field(365, ge=0, description="what callers said (turns, "
                                       "voicemail transcripts, summaries); 0 keeps for ever")
    keep_recordings_days: int = Field(90, ge=0, description="voicemail audio; 0 keeps for ever")
    cleanup_hours: float = Field(6.0, gt=0, description="how often old data is cleaned up")
    vad_end_ms: int = Field(300, ge=100, description="silence that ends an utterance")
    vad_quick_end_ms: int = Field(160, ge=0, description="shorter silence that ends an utterance "
                                  "once it is a whole phrase of the step's grammar (0: off)")
    health_token: str = Field("", description="bearer token for /health details from outside "
                              "this machine (loopback and the console see them anyway)")
    trusted_proxies: str = Field("", description="addresses of the reverse proxies whose "
                                 "X-Forwarded-For is believed (comma-separated); none by default")
    api_docs: bool = Field(False, description="serve /docs and /openapi.json (off in production)")

    @classmethod
    def load(cls, **overrides: object) -> Settings:
        """Settings from the environment; a bad value is a `ConfigError` naming the variable."""
        from pydantic import ValidationError

        from ivr.errors import ConfigError

        try:
            return cls(**overrides)  # type: ignore[arg-type]
        except ValidationError as exc:
            problems = "; ".join(
                f"IVR_{'_'.join(str(p) for p in error['loc']).upper()}={error.get('input')!r}: "
                f"{error['msg']}" for error in exc.errors())
            raise ConfigError(f"bad setting: {problems}") from None

    def handoff_secret_value(self) -> str:
        """The key that signs handoff URLs and webhook bodies."""
        if self.handoff_secret:
            return self.handoff_secret
        return hashlib.sha256(f"ivr-handoff:{self.twilio_auth_token}".encode()).hexdigest()

    def stream_url(self) -> str:
        """The wss:// address Twilio opens the media stream to."""
        base = self.base_url()
        return base.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/twilio/media"

    def base_url(self) -> str:
        """The public URL without a trailing slash (the local address when none is set)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
