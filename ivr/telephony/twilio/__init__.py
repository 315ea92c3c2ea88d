"""Twilio: voice webhooks answered with TwiML, bidirectional Media Streams, signatures."""
