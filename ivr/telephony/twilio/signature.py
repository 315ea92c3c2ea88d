"""X-Twilio-Signature checks with the SDK's RequestValidator, against the public URL."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from twilio.request_validator import RequestValidator

from ivr.errors import SignatureError

log = logging.getLogger(__name__)


class TwilioSignatures:
    """Validates webhook and websocket requests as Twilio signed them."""

    def __init__(self, auth_token: str, public_base_url: str) -> None:
        if not auth_token:
            raise SignatureError("no Twilio auth token: set TWILIO_AUTH_TOKEN")
        self.validator = RequestValidator(auth_token)
        self.base = public_base_url.rstrip("/")

    def public_url(self, path: str, query: str, scheme: str = "") -> str:
        """The URL Twilio used, rebuilt from the public base (we may sit behind a proxy)."""
        base = self.base
        if scheme == "ws":
            base = base.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{base}{path}" + (f"?{query}" if query else "")

    def check(self, url: str, params: Mapping[str, str], signature: str | None) -> None:
        """Raise `SignatureError` unless `signature` is Twilio's for this URL and body."""
        if not signature or not self.validator.validate(url, dict(params), signature):
            log.warning("refused a request with a %s Twilio signature: %s",
                        "missing" if not signature else "wrong", url)
            raise SignatureError(f"bad Twilio signature for {url}")
