"""Audio: mu-law and PCM, loudness, prompt rendering."""
