"""Call records, transcripts and voicemails (SQLite by default, PostgreSQL by URL)."""
