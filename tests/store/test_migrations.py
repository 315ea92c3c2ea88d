"""Schema migrations (Alembic): a fresh database, one made before migrations, and no drift."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, insert, inspect, select
from sqlalchemy.engine import Engine, make_url

from ivr.store.calls import open_database
from ivr.store.migrate import BASELINE, HERE, alembic_config, drop_everything, head_revision
from ivr.store.tables import call_events, calls, metadata
from tests import needs

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)


def _urls(tmp_path: Path) -> list[str]:
    urls = [f"sqlite:///{tmp_path / 'm.sqlite3'}"]
    if os.environ.get("IVR_TEST_POSTGRES_URL"):
        urls.append(os.environ["IVR_TEST_POSTGRES_URL"])
    return urls


def _raw_engine(url: str) -> Engine:
    parsed = make_url(url)
    return create_engine(parsed.set(drivername="postgresql+psycopg") if parsed.drivername == "postgresql"
                         else parsed)


@pytest.mark.parametrize("which", ["sqlite", "postgresql"])
def test_a_fresh_database_is_migrated_to_the_newest_revision_with_no_drift(
        tmp_path: Path, which: str) -> None:
    urls = _urls(tmp_path)
    url = urls[0] if which == "sqlite" else needs.postgres_url()
    raw = _raw_engine(url)
    drop_everything(raw)
    raw.dispose()
    engine = open_database(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        assert context.get_current_revision() == head_revision()
        # tables.py and the migrations describe the same schema: a change to one needs the other
        assert compare_metadata(context, metadata) == []
    drop_everything(engine)
    engine.dispose()


def test_a_database_made_before_migrations_keeps_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    old = create_engine(url)
    with old.begin() as conn:  # the schema every start built before Alembic: the baseline's
        command.upgrade(alembic_config(conn), BASELINE)
        conn.exec_driver_sql("DROP TABLE alembic_version")
        conn.execute(insert(calls).values(sid="CA1", flow="plumbing", flow_version="v1", caller="+1555",
                                          called="+1556", started_at=T0))
        conn.exec_driver_sql("INSERT INTO call_events (call_sid, at, kind, speaker, text, data) "
                             "VALUES ('CA1', '2026-11-24 10:00:00', 'turn', 'caller', 'hours', "
                             "'{\"step\": \"main\"}')")
    old.dispose()
    engine = open_database(url)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()
        assert conn.execute(select(calls.c.sid)).scalars().all() == ["CA1"]
        # 0002 moved each event's step out of its data into a column of its own
        assert conn.execute(select(call_events.c.step)).scalars().all() == ["main"]


def test_a_database_older_than_the_baseline_gets_the_tables_it_lacks(tmp_path: Path) -> None:
    # A database from before live-call state was shared: no live_calls table, no migrations.
    url = f"sqlite:///{tmp_path / 'older.sqlite3'}"
    old = create_engine(url)
    with old.begin() as conn:
        command.upgrade(alembic_config(conn), BASELINE)
        conn.exec_driver_sql("DROP TABLE alembic_version")
        conn.exec_driver_sql("DROP TABLE live_calls")
    old.dispose()
    engine = open_database(url)
    assert "live_calls" in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_migrations_ship_with_the_package() -> None:
    assert (HERE / "env.py").is_file() and (HERE / "script.py.mako").is_file()
    assert list((HERE / "versions").glob("0001_*.py"))
