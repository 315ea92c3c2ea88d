"""The database schema, in SQLAlchemy Core: calls, their timeline, their voicemails."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

calls = Table(
    "calls", metadata,
    Column("sid", String(64), primary_key=True),
    Column("flow", String(200), nullable=False),
    Column("flow_version", String(64), nullable=False),
    Column("caller", String(64), nullable=False, default=""),
    Column("called", String(64), nullable=False, default=""),
    Column("started_at", DateTime(timezone=True), nullable=False, index=True),
    Column("ended_at", DateTime(timezone=True)),
    Column("outcome", String(40)),
    Column("transfer_reason", String(40), index=True),
    Column("transferred_to", String(200)),
    Column("answered_by", String(64)),  # the number whose person pressed 1 to take the call
    Column("summary", Text),
    Column("signals", JSON, default=list),
    Column("disclosure_done_s", Float),  # seconds from start until the disclosure finished
    Column("time_to_human_s", Float),  # seconds from start until the <Dial> was issued
    Column("speech", String(40)),  # "vosk:<model>" or "keypad-only"
)

call_events = Table(
    "call_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_sid", String(64), ForeignKey("calls.sid"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(40), nullable=False),  # turn, transfer, dial, fault, status, ...
    Column("speaker", String(10)),
    Column("text", Text),
    Column("data", JSON, default=dict),
    # where in the flow (a column, not only in `data`: the struggle figures group by it)
    Column("step", String(200), index=True),
)

callbacks = Table(
    "callbacks", metadata,  # people waiting for a call back: a task for staff
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_sid", String(64), ForeignKey("calls.sid"), nullable=False, index=True),
    Column("number", String(64), nullable=False),
    Column("reason", String(40)),
    Column("transcript", Text),
    Column("promise", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("done_at", DateTime(timezone=True)),
    Column("done_by", String(200)),
)

voicemails = Table(
    "voicemails", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_sid", String(64), ForeignKey("calls.sid"), nullable=False, index=True),
    Column("recording_sid", String(64)),
    Column("recording_url", Text),
    Column("audio_path", Text),
    Column("duration_s", Float),
    Column("transcript", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(200), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(20), nullable=False),  # owner, editor, viewer
    Column("created_at", DateTime(timezone=True), nullable=False),
)

sessions = Table(
    "sessions", metadata,
    Column("token_hash", String(64), primary_key=True),  # the cookie holds the token, never stored
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

flow_versions = Table(
    "flow_versions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("flow", String(200), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("yaml", Text, nullable=False),
    Column("status", String(20), nullable=False),  # draft, published, archived
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("note", Text),
    UniqueConstraint("flow", "version"),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("user", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("flow", String(200)),
    Column("version", Integer),
    Column("diff", Text),
)

live_calls = Table(
    "live_calls", metadata,  # what any instance needs to answer a webhook of a call in progress
    Column("sid", String(64), primary_key=True),
    Column("flow", String(200), nullable=False),
    Column("flow_version", String(64), nullable=False),
    Column("snapshot", Text, nullable=False),  # JSON, see ivr.telephony.snapshot
    Column("held_by", String(200)),  # the instance whose media stream has the call now, if any
    Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
)

day_figures = Table(
    "day_figures", metadata,  # the console's figures per closed UTC day (ivr.store.rollups)
    Column("kind", String(40), primary_key=True),  # dashboard, steps
    Column("flow", String(200), primary_key=True),  # "" for figures over every flow
    Column("day", Date, primary_key=True),
    Column("figures", Text, nullable=False),  # JSON: nested counts
)
