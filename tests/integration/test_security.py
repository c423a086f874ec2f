"""Security properties, checked across every route rather than a chosen few."""

import re

import pytest
from browser_forms import add_admin, log_in
from builders import add_product

GET_PARAMS = {
    "id": "1",
    "slug": "daily-revenue",
    "export_type": "csv",
    "fingerprint": "0123456789abcdef",
    "public_id": "00000000-0000-4000-8000-000000000000",
    "product_id": "1",
    "filename": "x.css",
    "path": "x",
    "pid": "1",
    "action": "cancel",
    "name": "swagger-ui.css",
}


def routes(app, prefix: str, method: str):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(prefix) and method in rule.methods and "static" not in rule.rule:
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: GET_PARAMS[m.group(1)], rule.rule)
            yield path


def test_every_admin_and_report_page_requires_login(app, client):
    pages = [*routes(app, "/admin", "GET"), *routes(app, "/reports", "GET")]
    assert len(pages) > 30
    for page in pages:
        response = client.get(page)
        assert response.status_code == 302, page
        assert response.headers["Location"].startswith("/login"), page


def test_every_state_changing_form_requires_a_csrf_token(app, admin_client):
    posts = [p for p in routes(app, "/", "POST") if not p.startswith("/api/")]
    assert "/login" in posts and "/logout" in posts and len(posts) > 20
    for path in posts:
        response = admin_client.post(path, data={"id": "1", "action": "delete", "rowid": "1"})
        assert response.status_code == 400, path
        assert "CSRF" in response.text, path


def test_api_posts_need_no_csrf_but_a_token(client):
    response = client.post("/api/orders", json={})
    assert response.status_code == 401


@pytest.mark.parametrize(
    "page", ["/login", "/admin/", "/admin/product/", "/reports/", "/api/openapi.json", "/healthz"]
)
def test_security_headers(admin_client, session, page):
    add_product(session)
    response = admin_client.get(page)
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    csp = headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", csp).group(1)
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "frame-ancestors 'none'" in csp
    if response.mimetype == "text/html":
        nonce = re.search(r"'nonce-([^']+)'", script_src).group(1)
        html = response.text
        # Every script is external or carries this response's nonce; no inline handlers.
        for tag in re.findall(r"<script[^>]*>", html):
            assert "src=" in tag or f'nonce="{nonce}"' in tag, tag
        assert not re.search(r"\son[a-z]+=", html), page


def test_each_response_gets_its_own_nonce(admin_client):
    first = admin_client.get("/admin/").headers["Content-Security-Policy"]
    second = admin_client.get("/admin/").headers["Content-Security-Policy"]
    assert first != second


def test_cookies_are_secure_over_https(client, session):
    add_admin(session)
    page = client.get("/login", base_url="https://shop.example")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/login",
        base_url="https://shop.example",
        # Over HTTPS, Flask-WTF also wants the Referer to be this site.
        headers={"Referer": "https://shop.example/login"},
        data={"email": "ops@example.com", "password": "correct horse battery", "csrf_token": token},
    )
    assert response.status_code == 302
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "Secure" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_cookies_over_plain_http_in_development_are_not_marked_secure(client, session):
    add_admin(session)
    response = log_in(client)
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "Secure" not in cookie


def test_https_behind_a_trusted_proxy(make_app):
    app = make_app(TRUSTED_PROXIES=1)
    response = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" in response.headers
    untrusted = make_app().test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in untrusted.headers
