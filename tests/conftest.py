import pytest

from leadcenter import db, schema


@pytest.fixture
def database():
    """A fresh in-memory database with the current schema, bound to the models."""
    memory = db.open_sqlite(":memory:")
    db.bind(memory)
    schema.migrate()
    yield memory
    memory.close()
