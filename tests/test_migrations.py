"""The migration chain: one head, up and down and up again, no drift from the models."""

from pathlib import Path

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from app.extensions import db
from app.paths import MIGRATIONS_DIR


def _tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_one_head_and_every_migration_can_go_down():
    script = ScriptDirectory(str(MIGRATIONS_DIR))
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
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, db.metadata)
    assert differences == []
