"""Reading and writing call records. Writes from the event loop go through `AsyncCallStore`,
one worker thread in order, so a slow disk never delays audio."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select, create_engine, event, func, insert, select, text, update
from sqlalchemy.engine import make_url

from ivr.store.migrate import upgrade
from ivr.store.tables import call_events, callbacks, calls, voicemails
from ivr.workers import PriorityWorkers

log = logging.getLogger(__name__)


def utcnow() -> dt.datetime:
    """The wall clock, in UTC (adapters read time; the engine never does)."""
    return dt.datetime.now(dt.UTC)


def open_database(url: str) -> Engine:
    """Connect and bring the schema up to date (Alembic). SQLite gets WAL so readers never block writers."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":  # the README's plain URL: psycopg 3, whatever the default
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, future=True, pool_pre_ping=True)
    if parsed.get_backend_name() == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
    with exclusive(engine, "schema"):  # instances starting together migrate once
        upgrade(engine)
    return engine


@contextlib.contextmanager
def exclusive(engine: Engine, what: str) -> Iterator[None]:
    """One process at a time, across every instance using this database: a PostgreSQL advisory
    lock, or a file lock beside a SQLite file (a memory database has one process anyway)."""
    key = int.from_bytes(hashlib.sha256(f"ivr:{what}".encode()).digest()[:8], "big", signed=True)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                conn.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        yield
        return
    with open(f"{database}.{what}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class CallStore:
    """Synchronous access to call records."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def start_call(self, sid: str, flow: str, flow_version: str, caller: str, called: str,
                   started_at: dt.datetime, speech: str) -> None:
        with self.engine.begin() as conn:
            exists = conn.execute(select(calls.c.sid).where(calls.c.sid == sid)).first()
            if exists is None:
                conn.execute(insert(calls).values(
                    sid=sid, flow=flow, flow_version=flow_version, caller=caller, called=called,
                    started_at=started_at, speech=speech, signals=[]))

    def update_call(self, sid: str, **fields: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(calls).where(calls.c.sid == sid).values(**fields))

    def add_events(self, sid: str, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(call_events), [{"call_sid": sid, "step": None, **row} for row in rows])

    def record(self, sid: str, rows: Sequence[dict[str, Any]], fields: dict[str, Any]) -> None:
        """A turn: its timeline lines and what changed in the call's record, in one transaction."""
        with self.engine.begin() as conn:
            if rows:
                conn.execute(insert(call_events), [{"call_sid": sid, "step": None, **row} for row in rows])
            if fields:
                conn.execute(update(calls).where(calls.c.sid == sid).values(**fields))

    def mark_prompt(self, sid: str, line: int, **heard: Any) -> None:
        """What became of the prompt on transcript line `line`: `heard` (full, cut, never,
        unconfirmed), `played_s` of `of_s`, and `cut_by` (key, barge-in, hang-up...)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(call_events.c.id, call_events.c.data).where(
                call_events.c.call_sid == sid, call_events.c.kind == "turn",
                call_events.c.data["line"].as_integer() == line)).first()
            if row is not None:
                conn.execute(update(call_events).where(call_events.c.id == row.id)
                             .values(data={**(row.data or {}), **heard}))

    def prompt_figures(self, sids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Per call: how its disclosure went and how many prompts were heard, cut or never
        played (for the CSV)."""
        heard = call_events.c.data["heard"].as_string()
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(sids), 500):
                rows = conn.execute(select(call_events.c.call_sid, call_events.c.data).where(
                    call_events.c.call_sid.in_(sids[start:start + 500]), call_events.c.kind == "turn",
                    heard.is_not(None)).order_by(call_events.c.id))
                for sid, data in rows:
                    entry = out.setdefault(sid, {"prompts_heard": 0, "prompts_cut": 0,
                                                 "prompts_unplayed": 0, "disclosure": ""})
                    kind = {"full": "prompts_heard", "unconfirmed": "prompts_heard",
                            "cut": "prompts_cut"}.get(data["heard"], "prompts_unplayed")
                    entry[kind] += 1
                    if data.get("prompt") == "disclosure" and not entry["disclosure"]:
                        entry["disclosure"] = describe_heard(data)
        return out

    def has_voicemail(self, recording_sid: str) -> bool:
        """Whether a recording is stored already (an empty sid never is)."""
        if not recording_sid:
            return False
        with self.engine.connect() as conn:
            return conn.execute(select(voicemails.c.id).where(
                voicemails.c.recording_sid == recording_sid).limit(1)).first() is not None

    def add_voicemail(self, sid: str, **fields: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(voicemails).values(call_sid=sid, created_at=utcnow(), **fields))

    def add_callback(self, sid: str, number: str, reason: str, transcript: str, promise: str) -> None:
        """A caller waiting to be called back: a task for staff."""
        with self.engine.begin() as conn:
            conn.execute(insert(callbacks).values(call_sid=sid, number=number, reason=reason,
                                                  transcript=transcript, promise=promise,
                                                  created_at=utcnow()))

    def open_callbacks(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(callbacks).where(callbacks.c.done_at.is_(None))
                                .order_by(callbacks.c.created_at))
            return [dict(r) for r in rows.mappings()]

    def finish_callback(self, task_id: int, who: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(callbacks).where(callbacks.c.id == task_id)
                         .values(done_at=utcnow(), done_by=who))

    def get_call(self, sid: str) -> dict[str, Any] | None:
        """One call with its timeline and voicemails, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(calls).where(calls.c.sid == sid)).mappings().first()
            if row is None:
                return None
            result = dict(row)
            result["events"] = [dict(r) for r in conn.execute(
                select(call_events).where(call_events.c.call_sid == sid)
                .order_by(call_events.c.id)).mappings()]
            result["voicemails"] = [dict(r) for r in conn.execute(
                select(voicemails).where(voicemails.c.call_sid == sid)
                .order_by(voicemails.c.id)).mappings()]
            result["callbacks"] = [dict(r) for r in conn.execute(
                select(callbacks).where(callbacks.c.call_sid == sid)
                .order_by(callbacks.c.id)).mappings()]
            return result

    def list_calls(self, limit: int = 100) -> list[dict[str, Any]]:
        return self.find_calls(limit=limit)

    def find_calls(self, since: dt.datetime | None = None, until: dt.datetime | None = None,
                   limit: int | None = None, said: str = "", caller: str = "",
                   within: Select[Any] | None = None, **equal: str) -> list[dict[str, Any]]:
        """Calls started in [since, until), newest first, filtered in SQL (`equal`: column =
        value, e.g. flow, outcome, transfer_reason), so any period is complete however old.
        `said`: words anywhere in the transcript or the summary (any case); `caller`: part of
        the caller's number; `within`: a query of call sids to keep (e.g. the calls behind a
        figure of the struggle view)."""
        query = select(calls)
        if within is not None:
            query = query.where(calls.c.sid.in_(within))
        if since is not None:
            query = query.where(calls.c.started_at >= since)
        if until is not None:
            query = query.where(calls.c.started_at < until)
        for column, value in equal.items():
            query = query.where(calls.c[column] == value)
        if caller:
            query = query.where(calls.c.caller.contains(caller, autoescape=True))
        if said:
            words = said.lower()
            in_transcript = select(call_events.c.call_sid).where(
                func.lower(call_events.c.text).contains(words, autoescape=True))
            query = query.where(calls.c.sid.in_(in_transcript)
                                | func.lower(calls.c.summary).contains(words, autoescape=True))
        query = query.order_by(calls.c.started_at.desc())
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]


def describe_heard(data: dict[str, Any]) -> str:
    """A prompt's fate in words, for people: "heard", "cut after 1.2 s (key)", "never played"."""
    heard = data.get("heard")
    why = f" ({data['cut_by']})" if data.get("cut_by") else ""
    if heard == "full":
        return "heard"
    if heard == "unconfirmed":
        return "played (its mark never came back)"
    if heard == "cut":
        return f"cut after {float(data.get('played_s', 0)):.1f} s of {float(data.get('of_s', 0)):.1f} s{why}"
    if heard == "never":
        return f"never played{why}"
    return ""


class AsyncCallStore:
    """Call-store work from async code, on one writer thread (SQLite has one writer anyway),
    in two lanes, each in order: live-call state (call starts and what the next webhook of a
    call needs) before call records (transcripts, outcomes). A caller pressing 0 waits for their
    call's state to be shared, not for the transcripts of every call that finished speaking in
    the same second. A call's record is started in the live lane, so it exists before any of
    the call's shared state or records (an instance taking the call over has a record to add to)."""

    LIVE, RECORDS = 0, 1

    def __init__(self, store: CallStore) -> None:
        from ivr.store.live import LiveCallStore

        self.store = store
        self.live = LiveCallStore(store.engine)
        self._writer = PriorityWorkers(1, "ivr-store")
        self.write_lag: Callable[[float], None] | None = None  # seconds from queued to written

    @property
    def calls(self) -> CallStore:
        """The call records, for `later(store.calls.update_call, ...)`."""
        return self.store

    def later(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue a record write behind every record write so far; failures are logged, never
        raised into a call. Needs no event loop."""
        future = self._writer.submit(self.RECORDS, self._safe_call, fn, args, kwargs)
        if self.write_lag is not None:
            queued, report = time.monotonic(), self.write_lag
            future.add_done_callback(lambda _: report(time.monotonic() - queued))
        return future

    def share_later(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Queue live-call work (failures logged) ahead of queued record writes."""
        return self._writer.submit(self.LIVE, self._safe_call, fn, args, {})

    async def share(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run live-call work ahead of queued record writes and wait for it (errors are raised)."""
        return await self._writer.run(self.LIVE, fn, *args)

    @staticmethod
    def _safe_call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception:
            log.exception("call store %s failed", getattr(fn, "__name__", fn))
            return None

    async def flush(self) -> None:
        """Wait until every queued write is done."""
        await self._writer.run(self.RECORDS + 1, lambda: None)

    def drain(self) -> None:
        """Block until every write queued so far is done (tests, shutdown)."""
        self._writer.submit(self.RECORDS + 1, lambda: None).result()

    def close(self) -> None:
        self._writer.shutdown(wait=True)
