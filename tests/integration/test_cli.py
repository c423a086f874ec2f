"""The flask commands: create-admin and api-token create, and a bad setting stopping
the real CLI with one line."""

import hashlib

from processes import clean_env, flask
from sqlalchemy import select

from app.api.models import ApiToken
from app.auth.models import AdminUser


def test_create_admin_stores_a_hash(runner, session):
    result = runner.invoke(
        args=["create-admin", "Ops@Example.com", "--password-stdin"],
        input="correct horse battery\n",
    )
    assert result.exit_code == 0, result.output
    user = session.scalar(select(AdminUser))
    assert user.email == "ops@example.com"
    assert "correct horse" not in user.password_hash
    assert user.password_hash.startswith("scrypt:")
    assert user.check_password("correct horse battery")
    assert not user.check_password("wrong password!")


def test_create_admin_prompts_for_the_password(runner, session):
    result = runner.invoke(
        args=["create-admin", "ops@example.com"], input="long enough pw\nlong enough pw\n"
    )
    assert result.exit_code == 0, result.output
    assert session.scalar(select(AdminUser)).check_password("long enough pw")


def test_create_admin_refuses_duplicates_unless_updating(runner, session):
    args = ["create-admin", "ops@example.com", "--password-stdin"]
    assert runner.invoke(args=args, input="first password\n").exit_code == 0
    again = runner.invoke(args=args, input="second password\n")
    assert again.exit_code == 1
    assert "--update" in again.output
    assert runner.invoke(args=[*args, "--update"], input="second password\n").exit_code == 0
    assert session.scalar(select(AdminUser)).check_password("second password")


def test_create_admin_rejects_bad_input(runner, session):
    short = runner.invoke(
        args=["create-admin", "ops@example.com", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 1
    assert "at least 10 characters" in short.output
    not_email = runner.invoke(
        args=["create-admin", "not-an-email", "--password-stdin"], input="long enough pw\n"
    )
    assert not_email.exit_code == 1
    assert "not an email address" in not_email.output
    assert session.scalar(select(AdminUser)) is None


def test_api_token_is_printed_once_and_stored_hashed(runner, session):
    result = runner.invoke(args=["api-token", "create", "warehouse-sync"])
    assert result.exit_code == 0, result.output
    plain = result.stdout.strip().splitlines()[-1]
    assert plain.startswith("sr_")
    token = session.scalar(select(ApiToken))
    assert token.name == "warehouse-sync"
    assert token.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert plain not in (token.token_hash, token.prefix)


def test_api_token_rejects_an_empty_name(runner, session):
    result = runner.invoke(args=["api-token", "create", "   "])
    assert result.exit_code == 1
    assert session.scalar(select(ApiToken)) is None


def test_a_bad_variable_stops_the_cli_with_one_line():
    result = flask("devdb", "status", env=clean_env(DB_POOL_TIMEOUT="soon"))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "stockroom: configuration error: DB_POOL_TIMEOUT='soon' is not a whole number"
    )
