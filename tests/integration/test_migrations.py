"""The migration chain: one head, up and down and up again, no drift from the models."""

from pathlib import Path

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.db.migration_scripts import PROGRESS_TABLE, include_object, migration_scripts
from app.extensions import db


def _tables(engine) -> set[str]:
    # Alembic's own table, and the migrations' progress table (migrations/progress.py).
    return set(inspect(engine).get_table_names()) - {"alembic_version", PROGRESS_TABLE}


def test_one_head_and_every_migration_can_go_down():
    script = migration_scripts()
    assert len(script.get_heads()) == 1
    for revision in script.walk_revisions():
        source = Path(revision.path).read_text()
        assert "def downgrade" in source
        assert "def downgrade():\n    pass" not in source, revision.path


def test_upgrade_downgrade_upgrade(make_app, make_database):
    app = make_app(make_database())
    with app.app_context():
        flask_migrate.upgrade()
        assert _tables(db.engine) == {t.name for t in db.metadata.sorted_tables}

        flask_migrate.downgrade(revision="base")
        assert _tables(db.engine) == set()

        flask_migrate.upgrade()
        assert _tables(db.engine) == {t.name for t in db.metadata.sorted_tables}


def test_models_match_the_migrated_database(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": include_object,
            },
        )
        differences = compare_metadata(context, db.metadata)
    assert differences == []
