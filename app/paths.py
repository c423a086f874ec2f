"""Where the project's files live on disk."""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Local state (embedded database, dev secret key); movable so tests never touch yours.
INSTANCE_PATH = Path(os.environ.get("STOCKROOM_INSTANCE_PATH") or PROJECT_ROOT / "instance")
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
TEMPLATES_DIR = PROJECT_ROOT / "templates"
GUNICORN_CONF = PROJECT_ROOT / "gunicorn.conf.py"
EMBEDDED_PGDATA = INSTANCE_PATH / "postgres"
