"""Settings from the environment (app/config.py). (A bad one stopping a command:
integration/test_cli.py.)"""

import stat

import pytest

from app import config


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/shop", "postgresql+psycopg://u:p@db:5432/shop"),
        ("postgres://u@db/shop", "postgresql+psycopg://u@db/shop"),
        ("postgresql+psycopg://u@db/shop", "postgresql+psycopg://u@db/shop"),
    ],
)
def test_postgresql_urls_mean_psycopg3(given, expected):
    assert config.sqlalchemy_url(given) == expected


def test_other_databases_are_refused():
    with pytest.raises(config.ConfigError, match="must be a PostgreSQL URL"):
        config.sqlalchemy_url("mysql://u@db/shop")


def test_bad_numbers_name_the_variable(monkeypatch):
    monkeypatch.setenv("DB_POOL_TIMEOUT", "soon")
    with pytest.raises(config.ConfigError, match="DB_POOL_TIMEOUT='soon'"):
        config.env_int("DB_POOL_TIMEOUT", 5, minimum=1)
    monkeypatch.setenv("DB_POOL_TIMEOUT", "0")
    with pytest.raises(config.ConfigError, match="at least 1"):
        config.env_int("DB_POOL_TIMEOUT", 5, minimum=1)


def test_secret_key_is_generated_once_in_development(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_ENV", raising=False)
    monkeypatch.delenv("APP_ENV", raising=False)
    first = config.secret_key(tmp_path)
    assert len(first) == 64
    assert config.secret_key(tmp_path) == first
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_secret_key_is_required_in_production(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(config.ConfigError, match="SECRET_KEY must be set"):
        config.secret_key(tmp_path)
    assert not (tmp_path / "secret_key").exists()
