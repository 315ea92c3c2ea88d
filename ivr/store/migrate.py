"""Schema migrations with Alembic, run at start-up by whichever instance gets there first.

    ivr db upgrade        (what every start does anyway)
    ivr db revision -m "add a column"   (developers: autogenerates from ivr/store/tables.py)

A database made before migrations existed (tables, no `alembic_version`) is taken to be at the
baseline revision and upgraded from there, keeping every row.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

from ivr.store.tables import metadata

HERE = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"
ADDED_AFTER_BASELINE = {"day_figures"}  # created by revision 0003


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration's revision."""
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(alembic_config()).get_current_head())


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (the caller holds the schema lock)."""
    with engine.begin() as connection:
        config = alembic_config(connection)
        tables = set(inspect(connection).get_table_names())
        if "alembic_version" not in tables and "calls" in tables:
            # Made before migrations, by a version that created missing tables at each start:
            # an older one may lack tables the baseline has (live_calls came late). Create
            # those first, as that version would have, then take the database as at the
            # baseline. (They get today's shape; none of them is changed by a later revision.
            # Tables a later revision adds are left to it.)
            missing = [t for t in metadata.sorted_tables
                       if t.name not in tables and t.name not in ADDED_AFTER_BASELINE]
            metadata.create_all(connection, tables=missing)
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")


def new_revision(engine: Engine, message: str) -> None:
    """Write a migration for what changed in ivr/store/tables.py since the newest revision."""
    with engine.begin() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True)


def drop_everything(engine: Engine) -> None:
    """Drop every table, the record of migrations too, so the next start builds afresh (tests)."""
    metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
