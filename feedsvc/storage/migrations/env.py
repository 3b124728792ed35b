"""Alembic environment: runs on the engine feedsvc.migrate hands over, never a URL in a file."""

from __future__ import annotations

from alembic import context

from feedsvc.storage import archives as _archives  # noqa: F401  (its tables in the metadata)
from feedsvc.storage import media as _media  # noqa: F401  (its tables are in Base.metadata)
from feedsvc.storage import searchindex
from feedsvc.storage import topics as _topics  # noqa: F401  (its tables join the metadata)
from feedsvc.storage.models import Base

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    # render_as_batch: SQLite cannot ALTER most things in place; batch mode copies the table.
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # The search index and the list's expression indexes are made by 0014 alone.
        include_name=lambda name, _type, _parent: not searchindex.is_search_object(name),
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
