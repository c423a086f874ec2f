"""Stockroom: selling from inventory on Flask and PostgreSQL."""

from __future__ import annotations

from flask import Flask

from app import config
from app.db.engine import (
    PGBOUNCER,
    build_direct_engine,
    engine_options,
    install_connect_hooks,
)
from app.db.pool_plan import (
    JOBS_POOL_SIZE,
    JOBS_ROLE,
    REPORTS_POOL_SIZE,
    plan_from_environment,
)
from app.db.transaction_limits import web_limits
from app.devdb.embedded import AutoStart, EmbeddedPostgres
from app.extensions import csrf, db, login_manager, migrate
from app.monitoring.minute_totals import minute_totals
from app.monitoring.pool_tracking import InstrumentedQueuePool, install_pool_events
from app.monitoring.request_accounting import install_request_hooks
from app.monitoring.statements import install_statement_events
from app.paths import EMBEDDED_PGDATA, INSTANCE_PATH, MIGRATIONS_DIR, TEMPLATES_DIR


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app; ``test_config`` overrides settings read from the environment."""
    app = Flask(__name__, instance_path=str(INSTANCE_PATH), template_folder=str(TEMPLATES_DIR))
    app.config.from_mapping(config.load(INSTANCE_PATH, test_config))
    # ``flask jobs run`` builds the jobs process's own app with the same factory.
    app.extensions["stockroom.create_app"] = create_app
    register_database(app)
    register_extensions(app)
    register_blueprints(app)
    register_site_routes(app)
    register_error_handlers(app)
    register_commands(app)
    register_jobs(app)
    return app


def register_database(app: Flask) -> None:
    """Attach SQLAlchemy and migrations, with pools sized by the gunicorn master's plan."""
    from app import models  # noqa: F401  (every table in the metadata)

    plan = plan_from_environment()
    before_connect = None
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        server = EmbeddedPostgres(EMBEDDED_PGDATA)
        app.config["SQLALCHEMY_DATABASE_URI"] = server.url()
        app.extensions["stockroom.embedded"] = server
        before_connect = AutoStart(server).ensure_running
    pooler = app.config["DB_POOLER"]
    role = app.config.get("APP_ROLE") or ("web" if plan else "cli")
    options = engine_options(app.config, plan, pooler=pooler, poolclass=InstrumentedQueuePool)
    if role == JOBS_ROLE:
        # The jobs process's own small pool, as the pool plan counts it.
        options |= {"pool_size": JOBS_POOL_SIZE, "max_overflow": 0}
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", options)
    if app.config["REPORTS_DATABASE_URL"]:
        # A small pool of its own: reports are few and long; counted against the
        # reports server's own max_connections.
        app.config["SQLALCHEMY_BINDS"] = {
            "reports": {
                **engine_options(
                    app.config,
                    plan,
                    pooler=app.config["REPORTS_DB_POOLER"],
                    poolclass=InstrumentedQueuePool,
                ),
                "url": config.sqlalchemy_url(app.config["REPORTS_DATABASE_URL"]),
                "pool_size": REPORTS_POOL_SIZE,
                "max_overflow": REPORTS_POOL_SIZE,
            }
        }
    app.extensions["stockroom.pool_plan"] = plan
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    instance = app.config["INSTANCE_NAME"]
    limits = web_limits(app.config)
    with app.app_context():
        install_connect_hooks(
            db.engine,
            role=role,
            instance=instance,
            before_connect=before_connect,
            transaction_limits=limits if pooler == PGBOUNCER else None,
            ping_idle_seconds=app.config["DB_PING_IDLE_MS"] / 1000,
        )
        if "reports" in db.engines:
            install_connect_hooks(
                db.engines["reports"],
                role="reports",
                instance=instance,
                before_connect=None,
                transaction_limits=limits if app.config["REPORTS_DB_POOLER"] == PGBOUNCER else None,
                ping_idle_seconds=app.config["DB_PING_IDLE_MS"] / 1000,
            )
        if app.config["DB_INSTRUMENTATION"]:
            install_statement_events(db.engine, app)
            install_pool_events(db.engine)
        minute_totals.configure(app)  # on only with DB_HISTORY and instrumentation both on
    app.extensions["stockroom.direct_engine"] = build_direct_engine(
        app.config, role=role, before_connect=before_connect
    )
    if app.config["DB_INSTRUMENTATION"]:
        install_request_hooks(app)


def register_jobs(app: Flask) -> None:
    """The periodic jobs the jobs process runs (``flask jobs run``: once per period
    across every jobs process; app/jobs/scheduler.py). Web workers run none."""
    from app.catalog.sales_rates import SALES_RATES_JOB
    from app.history.recorder import HISTORY_JOBS
    from app.jobs.scheduler import register
    from app.reports.rollups.audit import AUDIT_JOB
    from app.reports.rollups.upkeep import ROLLUP_JOB

    register(app, SALES_RATES_JOB)
    register(app, ROLLUP_JOB)
    register(app, AUDIT_JOB)
    if app.config["DB_HISTORY"] and app.config["DB_INSTRUMENTATION"]:
        for job in HISTORY_JOBS:
            register(app, job)


def register_extensions(app: Flask) -> None:
    """Security headers, login sessions, CSRF and the admin console (with the
    database pages and the reports in its menu and its layout)."""
    from app import security
    from app.admin import init_admin
    from app.dbconsole.menu import add_to_admin as add_database_pages
    from app.reports.views import add_to_admin as add_reports

    security.register(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    csrf.init_app(app)
    admin = init_admin(app)
    add_database_pages(admin)
    add_reports(admin)


def register_blueprints(app: Flask) -> None:
    """Mount the routes."""
    from app.api.blueprint import IdConverter, create_api_blueprint
    from app.auth.views import bp as auth_bp
    from app.catalog.api import bp as catalog_api
    from app.customers.api import bp as customers_api
    from app.monitoring.health import bp as health_bp
    from app.monitoring.metrics import bp as metrics_bp
    from app.orders.api import bp as orders_api
    from app.reports.views import bp as reports_bp

    app.url_map.converters["id"] = IdConverter
    app.register_blueprint(health_bp)
    app.register_blueprint(metrics_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(auth_bp)
    # Each domain's API routes, nested under /api (token authentication there).
    api_domains = (catalog_api, customers_api, orders_api)
    api_bp = create_api_blueprint(*api_domains)
    app.register_blueprint(api_bp)
    # The API authenticates with bearer tokens, not cookies: no CSRF there
    # (Flask-WTF looks at the innermost blueprint, so each one is exempted).
    for blueprint in (api_bp, *api_domains):
        csrf.exempt(blueprint)


def register_site_routes(app: Flask) -> None:
    """``/`` leads to the console; ``/favicon.ico`` is the icon in app/static (browsers
    ask for it at the root whatever the pages link)."""
    from flask import redirect, send_from_directory, url_for

    def home():
        return redirect(url_for("admin.index"))

    def favicon():
        assert app.static_folder is not None  # Flask's default, app/static
        return send_from_directory(
            app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon", max_age=86400
        )

    app.add_url_rule("/", "home", home)
    app.add_url_rule("/favicon.ico", "favicon", favicon)


def register_error_handlers(app: Flask) -> None:
    """problem+json for the API and domain errors, 503 with Retry-After when the
    database is away."""
    from app.errors import register

    register(app)


def register_commands(app: Flask) -> None:
    """Add the ``flask`` subcommands."""
    from app.api.cli import api_token, purge_idempotency_keys
    from app.auth.cli import create_admin
    from app.db.cli import pool_plan
    from app.devdb.cli import devdb
    from app.reports.rollups.cli import rollup
    from app.seed.cli import seed
    from app.serving.jobs_process import jobs
    from app.serving.serve import serve

    for command in (
        api_token,
        create_admin,
        devdb,
        jobs,
        pool_plan,
        purge_idempotency_keys,
        rollup,
        seed,
        serve,
    ):
        app.cli.add_command(command)
