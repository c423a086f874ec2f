"""/reports/: the index, each report page, its CSV and its EXPLAIN plan, shown in the
admin console's layout (its navbar, menu and styles) and listed in its menu."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    request,
    url_for,
)
from flask_admin import Admin, expose
from flask_admin.menu import MenuDivider, MenuLink
from flask_login import current_user

from app.auth.guards import SecureBaseView, to_login
from app.reports.definitions import REPORTS, csv_value, show
from app.reports.runner import ReportDatabaseLost, ReportTimeout, explain_report, run_report

bp = Blueprint("reports", __name__, url_prefix="/reports")

MENU_CATEGORY = "Reports"
_LAYOUT = "stockroom.reports_layout"  # the app's ReportsLayout, in app.extensions


class ReportsLayout(SecureBaseView):
    """Lends the report pages the admin console's layout: rendering through a
    Flask-Admin view gives ``admin/master.html`` what it needs (``admin_view`` for the
    menu, the theme, the static URLs, the CSP nonce). Hidden from the menu, which
    lists the reports themselves (:class:`ReportLink`); its own URL, /admin/reports/,
    leads to /reports/."""

    def is_visible(self) -> bool:
        return False

    @expose("/")
    def index(self):
        return redirect(url_for("reports.index"))


class ReportLink(MenuLink):
    """A menu entry for a reports page (``url_for`` with arguments, which MenuLink
    lacks), shown as active on that page and the pages under it."""

    def __init__(self, name: str, endpoint: str, **values) -> None:
        super().__init__(name, endpoint=endpoint, category=MENU_CATEGORY)
        self.values = values

    def get_url(self) -> str:
        return url_for(self.endpoint, **self.values)

    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    def is_active(self, view) -> bool:
        if not self.values:
            return request.endpoint == self.endpoint
        return request.blueprint == bp.name and request.view_args == self.values


def add_to_admin(admin: Admin) -> None:
    """Put the reports in ``admin``'s menu (the index, then each report by title) and
    give their pages its layout; called by the app factory once the console is built
    (the console itself knows nothing of reports)."""
    layout = ReportsLayout(name="Reports", endpoint="reports_layout", url="reports")
    admin.add_view(layout)
    admin.app.extensions[_LAYOUT] = layout
    admin.add_link(ReportLink("All reports", "reports.index"))
    admin.add_menu_item(MenuDivider(), target_category=MENU_CATEGORY)
    for report in REPORTS.values():
        admin.add_link(ReportLink(report.title, "reports.show_report", slug=report.slug))


def render(template: str, **context) -> str:
    """A reports template, inside the admin console's layout (templates/reports/
    layout.html extends admin/master.html)."""
    return current_app.extensions[_LAYOUT].render(template, **context)


@bp.before_request
def require_login():
    """Reports are for logged-in admins."""
    return None if current_user.is_authenticated else to_login()


@bp.app_template_filter("report_value")
def report_value(value, column):
    """Format a value for the HTML table."""
    return show(column, value)


@bp.get("/")
def index():
    """The list of reports."""
    return render("reports/index.html", reports=REPORTS.values())


def _links(report) -> dict:
    """CSV and EXPLAIN links carrying the page's filters (built here: a query key
    such as ``slug`` or ``format`` must not collide with url_for's arguments)."""
    filters = {k: v for k, v in request.args.items() if k != "format"}
    page = url_for("reports.show_report", slug=report.slug)
    return {
        "csv_url": f"{page}?{urlencode(filters | {'format': 'csv'})}",
        "explain_url": url_for("reports.explain", slug=report.slug)
        + (f"?{urlencode(filters)}" if filters else ""),
        "page_url": page + (f"?{urlencode(filters)}" if filters else ""),
    }


def _report_and_form(slug: str):
    report = REPORTS.get(slug) or abort(404)
    form = report.form(request.args)
    return report, form


@bp.get("/<slug>")
def show_report(slug: str):
    """A report as a page (table, chart, footer), or as CSV with ?format=csv."""
    report, form = _report_and_form(slug)
    wants_csv = request.args.get("format") == "csv"

    def page(status=200, result=None, timeout=None, headers=None):
        chart = report.chart(result.rows) if result else None
        return (
            render(
                "reports/report.html",
                report=report,
                form=form,
                result=result,
                chart=chart,
                timeout=timeout,
                now=datetime.now(UTC),
                **_links(report),
            ),
            status,
            headers or {},
        )

    if not form.validate():
        if wants_csv:
            errors = "; ".join(f"{name}: {', '.join(e)}" for name, e in form.errors.items())
            return Response(f"invalid filters: {errors}\n", status=400, mimetype="text/plain")
        return page(400)
    try:
        result = run_report(report, form.params())
    except ReportTimeout:
        seconds = current_app.config["REPORT_STATEMENT_TIMEOUT_MS"] / 1000
        message = (
            f"The report took longer than {seconds:g} s and was stopped. "
            "Try a shorter date range or fewer rows."
        )
        if wants_csv:
            return Response(
                message + "\n", status=503, mimetype="text/plain", headers={"Retry-After": "30"}
            )
        return page(503, timeout=message)
    except ReportDatabaseLost:
        message = (
            "The reports database went away while this report ran on it. Try again: "
            "while it stays away, reports run on the primary."
        )
        if wants_csv:
            return Response(
                message + "\n", status=503, mimetype="text/plain", headers={"Retry-After": "5"}
            )
        return page(503, timeout=message, headers={"Retry-After": "5"})
    if wants_csv:
        return _csv(report, result.rows)
    return page(result=result)


def _csv(report, rows) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([column.key for column in report.columns])
    for row in rows:
        writer.writerow([csv_value(c, getattr(row, c.key)) for c in report.columns])
    filename = f"{report.slug}-{datetime.now(UTC):%Y%m%d-%H%M}.csv"
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/<slug>/explain")
def explain(slug: str):
    """The report's EXPLAIN (ANALYZE, BUFFERS) plan for the same filters."""
    report, form = _report_and_form(slug)
    if not form.validate():
        abort(400)
    source = None
    try:
        plan, execution_ms, source = explain_report(report, form.params())
    except ReportTimeout:
        plan, execution_ms = "The plan took longer than the report time limit.", None
    except ReportDatabaseLost:
        plan, execution_ms = "The reports database went away while the plan ran; retry.", None
    return render(
        "reports/explain.html",
        report=report,
        plan=plan,
        execution_ms=execution_ms,
        source=source,
        page_url=_links(report)["page_url"],
    )
