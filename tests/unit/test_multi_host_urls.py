"""Multi-host DATABASE_URLs (app/config.py): every spelling becomes one form that
SQLAlchemy hands to psycopg and libpq reads back the same (psql, pgbench, the
gunicorn master's server read)."""

import pytest
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import make_url

from app import config

SOCKETS = "host=/tmp/a,/tmp/b&port=5432,5433&target_session_attrs=read-write"


@pytest.mark.parametrize(
    "given",
    [
        f"postgresql://postgres@/shop?{SOCKETS}",
        "postgresql://postgres@%2Ftmp%2Fa:5432,%2Ftmp%2Fb:5433/shop?target_session_attrs=read-write",
        "postgresql://postgres@/shop?host=/tmp/a&host=/tmp/b&target_session_attrs=read-write",
    ],
)
def test_every_spelling_reaches_the_same_hosts(given):
    connect = PGDialect_psycopg().create_connect_args(make_url(config.sqlalchemy_url(given)))[1]
    assert connect["host"] == "/tmp/a,/tmp/b"
    assert connect["target_session_attrs"] == "read-write"
    libpq = conninfo_to_dict(config.libpq_url(given))
    assert libpq["host"] == "/tmp/a,/tmp/b" and libpq["dbname"] == "shop"


def test_tcp_hosts_keep_their_ports_in_order():
    url = "postgresql://u:p%40ss@db1:5432,db2:6432/shop?target_session_attrs=read-write"
    assert config.database_hosts(url) == [("db1", "5432"), ("db2", "6432")]
    libpq = conninfo_to_dict(config.libpq_url(url, database="other"))
    assert (libpq["host"], libpq["port"], libpq["password"], libpq["dbname"]) == (
        "db1,db2",
        "5432,6432",
        "p@ss",
        "other",
    )


def test_libpq_urls_encode_spaces_as_libpq_decodes_them():
    url = "postgresql://u@db/shop?options=-c%20statement_timeout%3D5"
    assert conninfo_to_dict(config.libpq_url(url))["options"] == "-c statement_timeout=5"


def test_one_host_of_a_multi_host_url():
    url = f"postgresql://postgres@/shop?{SOCKETS}"
    single = conninfo_to_dict(config.single_host_url(url, "/tmp/b", "5433"))
    assert (single["host"], single["port"]) == ("/tmp/b", "5433")
    assert "target_session_attrs" not in single


def test_a_single_host_url_is_unchanged():
    assert (
        config.sqlalchemy_url("postgresql://u@db:5432/shop")
        == "postgresql+psycopg://u@db:5432/shop"
    )
