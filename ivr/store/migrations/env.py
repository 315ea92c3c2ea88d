"""Alembic's environment: migrations run on the connection `ivr.store.migrate` hands over."""

from __future__ import annotations

from alembic import context

from ivr.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")  # SQLite alters by copying
with context.begin_transaction():
    context.run_migrations()
