"""The migration scripts in migrations/, read by the console and /readyz."""

from __future__ import annotations

import sys

from alembic.script import ScriptDirectory
from sqlalchemy.schema import SchemaItem

from app.paths import MIGRATIONS_DIR

# Migrations import helpers kept beside them (migrations/progress.py); alembic.ini's
# prepend_sys_path does this for the flask db commands.
PROGRESS_TABLE = "db_migration_progress"


def migration_scripts() -> ScriptDirectory:
    """The script directory, with its helpers importable."""
    if str(MIGRATIONS_DIR) not in sys.path:
        sys.path.insert(0, str(MIGRATIONS_DIR))
    return ScriptDirectory(str(MIGRATIONS_DIR))


def include_object(
    object: SchemaItem,
    name: str | None,
    type_: str,
    reflected: bool,
    compare_to: SchemaItem | None,
) -> bool:
    """Model drift ignores the migrations' own progress table (migrations/progress.py)."""
    return not (type_ == "table" and name == PROGRESS_TABLE)
