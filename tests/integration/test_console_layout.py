"""The reports and the admin console are one product: the report pages render in the
console's layout (its navbar, whole menu, log-out form and Bootstrap theme), and the
console's menu lists the reports."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from app.reports.definitions import REPORTS

# The console's menu: Shop, Access and Database pages (Flask-Admin's URLs).
CONSOLE_PAGES = {
    "/admin/product/": "Products",
    "/admin/customer/": "Customers",
    "/admin/order/": "Orders",
    "/admin/apitoken/": "API tokens",
    "/admin/adminuser/": "Admin users",
    "/admin/db/": "Overview",
    "/admin/db/pool/": "Pool",
    "/admin/db/queries/": "Queries",
    "/admin/db/migrations/": "Migrations",
    "/admin/db/activity/": "Activity",
    "/admin/db/schema/": "Schema",
}
REPORT_PAGES = {
    "/reports/": "All reports",
    **{f"/reports/{slug}": report.title for slug, report in REPORTS.items()},
}
# The console's theme (Bootstrap4Theme(swatch="default"), from Flask-Admin's static files).
BOOTSTRAP = "/admin/static/bootstrap/bootstrap4/swatch/default/bootstrap.min.css"


class Navbar(HTMLParser):
    """What the page's <nav class="navbar"> holds: its links (href -> text), the
    active ones, the dropdown categories and the forms."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.depth = 0  # > 0 inside the navbar
        self.links: dict[str, str] = {}
        self.active: list[str] = []
        self.categories: dict[str, bool] = {}  # name -> shown as active
        self.forms: list[dict] = []
        self._href: str | None = None
        self._text: list[str] = []
        self._toggle: bool | None = None  # inside a dropdown toggle: its <li> is active
        self._li_active: list[bool] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "nav" and "navbar" in classes:
            self.depth = 1
            return
        if not self.depth:
            return
        if tag == "nav":
            self.depth += 1
        elif tag == "li":
            self._li_active.append("active" in classes)
        elif tag == "form":
            self.forms.append(attrs)
        elif tag == "input" and self.forms:
            self.forms[-1].setdefault("inputs", []).append(attrs)
        elif tag == "a":
            self._text = []
            if "dropdown-toggle" in classes:
                self._toggle = bool(self._li_active and self._li_active[-1])
            else:
                self._href = attrs.get("href")
                if "active" in classes:
                    self.active.append(self._href or "")

    def handle_endtag(self, tag):
        if not self.depth:
            return
        if tag == "nav":
            self.depth -= 1
        elif tag == "li" and self._li_active:
            self._li_active.pop()
        elif tag == "a":
            text = " ".join("".join(self._text).split())
            if self._toggle is not None:
                self.categories[text] = self._toggle
            elif self._href:
                self.links[self._href] = text
            self._href, self._toggle = None, None

    def handle_data(self, data):
        if self.depth:
            self._text.append(data)


def stylesheets(html: str) -> list[str]:
    return re.findall(r'<link href="([^"]+)"[^>]*rel="stylesheet"', html)


@pytest.fixture
def report_page(admin_client):
    page = admin_client.get("/reports/top-customers")
    assert page.status_code == 200, page.text
    return page


def test_a_report_page_has_the_console_navbar_and_menu(report_page):
    nav = Navbar(report_page.text)
    assert 'id="admin-navbar-collapse"' in report_page.text
    assert nav.links["/admin"] == "Stockroom"  # the brand, as on the console's pages
    assert list(nav.categories) == ["Shop", "Access", "Database", "Reports"]
    for url, name in {**CONSOLE_PAGES, **REPORT_PAGES}.items():
        assert nav.links.get(url) == name, url


def test_a_report_page_shows_who_is_logged_in_and_logs_out_with_csrf(report_page):
    nav = Navbar(report_page.text)
    assert "ops@example.com" in report_page.text.split('id="admin-navbar-collapse"')[1]
    (logout,) = nav.forms
    assert (logout["method"], logout["action"]) == ("post", "/logout")
    assert any(i["name"] == "csrf_token" and i["value"] for i in logout["inputs"])


def test_the_reports_menu_shows_where_you_are(admin_client, report_page):
    nav = Navbar(report_page.text)
    assert nav.categories == {"Shop": False, "Access": False, "Database": False, "Reports": True}
    assert nav.active == ["/reports/top-customers"]
    explain = Navbar(admin_client.get("/reports/daily-revenue/explain").text)
    assert explain.categories["Reports"] and explain.active == ["/reports/daily-revenue"]
    index = Navbar(admin_client.get("/reports/").text)
    assert index.categories["Reports"] and index.active == ["/reports/"]


@pytest.mark.parametrize("path", ["/admin/", "/admin/product/", "/admin/db/pool/"])
def test_the_console_menu_lists_the_reports(admin_client, path):
    page = admin_client.get(path)
    assert page.status_code == 200
    nav = Navbar(page.text)
    assert list(nav.categories) == ["Shop", "Access", "Database", "Reports"]
    assert not nav.categories["Reports"]
    for url, title in REPORT_PAGES.items():
        assert nav.links.get(url) == title, url
    # Same theme as the report pages.
    assert stylesheets(page.text)[0].startswith(BOOTSTRAP)


def test_report_pages_use_the_console_styles_and_local_scripts_with_the_nonce(
    admin_client, report_page
):
    for page in (
        report_page,
        admin_client.get("/reports/"),
        admin_client.get("/reports/stock-cover/explain"),
    ):
        assert page.status_code == 200
        sheets = stylesheets(page.text)
        assert sheets[0].startswith(BOOTSTRAP)
        assert "/static/stockroom.css" in sheets
        assert all(sheet.startswith("/") for sheet in sheets), sheets  # no CDN
        nonce = re.search(r"'nonce-([^']+)'", page.headers["Content-Security-Policy"]).group(1)
        scripts = re.findall(r"<script[^>]*>", page.text)
        assert scripts  # Bootstrap's dropdowns for the menu
        for tag in scripts:
            assert re.search(r'src="/', tag) and f'nonce="{nonce}"' in tag, tag
        assert not re.search(r"\son[a-z]+=", page.text)
        assert 'style="' not in page.text.split("<body>")[1].split('<figure class="chart">')[0]


def test_the_filter_form_stays_a_get_form_without_csrf(report_page):
    form = report_page.text.split('<form method="get"')[1].split("</form>")[0]
    assert "csrf_token" not in form
    assert 'class="form-control form-control-sm"' in form  # Bootstrap's form controls
    assert 'name="top_n"' in form and 'name="region"' in form


def test_explain_links_back_to_the_report_with_its_filters(admin_client):
    page = admin_client.get(
        "/reports/daily-revenue/explain", query_string={"date_from": "2026-01-01"}
    )
    assert page.status_code == 200
    assert '<a href="/reports/daily-revenue?date_from=2026-01-01">Daily revenue</a>' in page.text


@pytest.mark.parametrize(
    "path",
    [
        "/reports/",
        "/reports/top-customers",
        "/reports/top-customers?format=csv",
        "/reports/top-customers/explain",
        "/admin/reports/",
    ],
)
def test_reports_require_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_the_login_page_looks_like_the_console_without_its_menu(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert stylesheets(page.text)[0].startswith(BOOTSTRAP)
    assert "/static/stockroom.css" in stylesheets(page.text)
    nav = Navbar(page.text)
    assert nav.links == {"/admin/": "Stockroom"} and nav.categories == {} and nav.forms == []
    assert 'class="navbar navbar-expand-lg navbar-dark bg-dark' in page.text


def test_the_hidden_layout_view_leads_to_the_reports(admin_client):
    response = admin_client.get("/admin/reports/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/reports/"
