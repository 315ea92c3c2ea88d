"""Speech recognition on this machine: Vosk models, grammar-restricted recognizers, voice activity."""
