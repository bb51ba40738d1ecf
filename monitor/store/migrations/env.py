"""Alembic environment: runs migrations on the connection chainwatch hands over."""

from alembic import context

from monitor.store.tables import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("chainwatch runs migrations through monitor.store.database.migrate()")
context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
