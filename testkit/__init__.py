"""Tools that play the world's side, for tests, benchmarks and `ivr call --twilio`: a Twilio
stand-in and a gateway on a local port. Not part of the runtime package `ivr`."""
