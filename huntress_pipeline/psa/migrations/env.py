"""Alembic environment for the pipeline's own huntress_* tables only.

Run through ``huntress_pipeline.psa.store.init_schema`` (``huntress-pipeline db init``),
which hands over an open connection; the version table is ``huntress_alembic_version``
so it never meets another tool's alembic history.
"""

from alembic import context

from huntress_pipeline.psa.schema import pipeline

VERSION_TABLE = "huntress_alembic_version"

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=pipeline,
    version_table=VERSION_TABLE,
    include_name=lambda name, type_, parent: type_ != "table" or name.startswith("huntress_"),
)
with context.begin_transaction():
    context.run_migrations()
