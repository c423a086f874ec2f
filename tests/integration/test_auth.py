"""Login, logout, CSRF and the lockout after repeated failures."""

import pytest
from browser_forms import PASSWORD, add_admin, csrf_token, log_in
from sqlalchemy import select

from app.auth.models import AdminUser, LoginThrottle
from app.auth.throttle import FREE_FAILURES

ADMIN_PAGES = [
    "/admin/",
    "/admin/product/",
    "/admin/customer/",
    "/admin/order/",
    "/admin/apitoken/",
    "/admin/adminuser/",
    "/admin/product/new/",
    "/admin/order/details/?id=1",
]


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_admin_pages_require_login(client, page):
    response = client.get(page)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_login_takes_you_where_you_were_going(client, session):
    add_admin(session)
    response = log_in(client, next_="/admin/order/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/order/"
    assert client.get("/admin/order/").status_code == 200
    assert session.scalar(select(AdminUser.last_login_at)) is not None


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "evil"],
)
def test_next_cannot_leave_the_site(client, session, target):
    add_admin(session)
    response = log_in(client, next_=target)
    assert response.headers["Location"] == "/admin/"


def test_wrong_password_and_unknown_email_look_the_same(client, session):
    add_admin(session)
    wrong = log_in(client, password="not the password")
    unknown = log_in(client, email="nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong email or password." in wrong.text
    assert "Wrong email or password." in unknown.text
    assert client.get("/admin/").status_code == 302


def test_login_without_csrf_token_is_refused(client, session):
    add_admin(session)
    response = client.post("/login", data={"email": "ops@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_repeated_failures_lock_the_email(client, session):
    add_admin(session)
    for _ in range(FREE_FAILURES):
        assert log_in(client, password="guess again!").status_code == 401
    locked = log_in(client)  # even the right password is refused for now
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.text
    throttle = session.scalar(select(LoginThrottle))
    assert throttle.failures == FREE_FAILURES


def test_success_clears_the_failures(client, session):
    add_admin(session)
    log_in(client, password="guess again!")
    assert log_in(client).status_code == 302
    assert session.scalar(select(LoginThrottle)) is None


def test_logout_needs_a_post_with_csrf(admin_client):
    assert admin_client.get("/logout").status_code == 405
    assert admin_client.post("/logout").status_code == 400  # no CSRF token
    page = admin_client.get("/admin/")
    response = admin_client.post("/logout", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    assert admin_client.get("/admin/").status_code == 302


def test_session_cookie_is_httponly_and_samesite(client, session):
    add_admin(session)
    response = log_in(client)
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


@pytest.mark.parametrize("email", ["ops\x00@example.com", "x" * 400, ""])
def test_odd_login_input_is_a_form_error_not_a_500(client, session, email):
    add_admin(session)
    response = log_in(client, email=email)
    assert response.status_code == 400


def sent_to_login(client) -> bool:
    response = client.get("/admin/")
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_new_password_ends_the_admins_other_sessions(app, session):
    user = add_admin(session)
    mine, elsewhere = app.test_client(), app.test_client()
    for client in (mine, elsewhere):
        assert log_in(client).status_code == 302
    assert elsewhere.get("/admin/").status_code == 200
    page = mine.get(f"/admin/adminuser/edit/?id={user.id}")
    saved = mine.post(
        f"/admin/adminuser/edit/?id={user.id}",
        data={
            "csrf_token": csrf_token(page.text),
            "email": user.email,
            "password": "a brand new password",
        },
    )
    assert saved.status_code == 302
    # The stolen-laptop case: the other browser's session is over.
    assert sent_to_login(elsewhere)
    assert log_in(elsewhere, password=PASSWORD).status_code == 401  # the old one is refused
    assert log_in(elsewhere, password="a brand new password").status_code == 302
    assert elsewhere.get("/admin/").status_code == 200


def test_deleting_an_admin_ends_their_session(app, session):
    add_admin(session)
    leaving_id = add_admin(session, email="leaving@example.com").id
    theirs, mine = app.test_client(), app.test_client()
    assert log_in(theirs, email="leaving@example.com").status_code == 302
    assert log_in(mine).status_code == 302
    page = mine.get("/admin/adminuser/")
    deleted = mine.post(
        "/admin/adminuser/delete/",
        data={
            "id": str(leaving_id),
            "url": "/admin/adminuser/",
            "csrf_token": csrf_token(page.text),
        },
    )
    assert deleted.status_code == 302
    session.expire_all()
    assert session.scalar(select(AdminUser).where(AdminUser.id == leaving_id)) is None
    assert sent_to_login(theirs)
    assert mine.get("/admin/").status_code == 200
