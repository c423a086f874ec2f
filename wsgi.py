"""WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app`` (and ``flask``'s app)."""

import sys

from app import create_app
from app.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    # One clear line instead of a traceback for a bad environment variable.
    sys.exit(f"stockroom: configuration error: {error}")
