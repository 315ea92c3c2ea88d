"""Schema migrations (Alembic): a fresh database, one made before migrations, and no drift."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.engine import Engine, make_url

from ivr.store.calls import CallStore, open_database
from ivr.store.migrate import HERE, drop_everything, head_revision
from ivr.store.tables import calls, metadata

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
    if which == "postgresql" and len(urls) < 2:
        pytest.skip("IVR_TEST_POSTGRES_URL is not set (./dev test starts PostgreSQL and sets it)")
    url = urls[0] if which == "sqlite" else urls[1]
    raw = _raw_engine(url)
    drop_everything(raw)
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
    metadata.create_all(old)  # how every start built the schema before Alembic
    CallStore(old).start_call("CA1", "plumbing", "v1", "+1555", "+1556", T0, "keypad-only")
    old.dispose()
    engine = open_database(url)
    assert "alembic_version" in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()
        assert conn.execute(select(calls.c.sid)).scalars().all() == ["CA1"]


def test_migrations_ship_with_the_package() -> None:
    assert (HERE / "env.py").is_file() and (HERE / "script.py.mako").is_file()
    assert list((HERE / "versions").glob("0001_*.py"))
