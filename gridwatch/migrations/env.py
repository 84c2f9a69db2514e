"""Alembic environment: the engine comes from gridwatch (config.attributes), never from an ini file."""

from alembic import context
from sqlalchemy import Engine

from gridwatch.tables import metadata

config = context.config


def run() -> None:
    engine = config.attributes.get("engine")
    if not isinstance(engine, Engine):
        raise RuntimeError("run migrations through gridwatch.db.upgrade(engine)")
    with engine.begin() as conn:
        context.configure(
            connection=conn,
            target_metadata=metadata,
            render_as_batch=conn.dialect.name == "sqlite",
            compare_type=True,
        )
        context.run_migrations()


run()
