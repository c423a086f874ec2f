"""Flask extensions, created unbound and attached in ``create_app``."""

from typing import TYPE_CHECKING

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Predictable constraint names, so migrations can refer to (and drop) them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

if TYPE_CHECKING:
    # mypy cannot use the attribute ``db.Model`` as a base class (python/mypy#8603).
    # At runtime it is built from Base's bases and namespace plus Flask-SQLAlchemy's
    # mixins; to the type checker, Base stands in for it.
    Model = Base
else:
    Model = db.Model
# Plain ALTERs for PostgreSQL; batch mode only exists for SQLite.
migrate = Migrate(compare_type=True, compare_server_default=True, render_as_batch=False)
login_manager = LoginManager()
# Every POST, PUT, PATCH and DELETE outside /api/ must carry a CSRF token.
csrf = CSRFProtect()
