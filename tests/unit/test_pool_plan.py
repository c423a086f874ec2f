"""The pool plan: connection budgets for several deployments, and the refusal."""

import itertools

import pytest

from app.db.pgbouncer_admin import bouncer_limits
from app.db.pool_plan import (
    BouncerLimits,
    PoolPlan,
    PoolPlanError,
    ServerLimits,
    compute_plan,
    compute_pooled_plan,
)

PG_DEFAULT = ServerLimits(max_connections=100, superuser_reserved_connections=3)


@pytest.mark.parametrize(
    ("workers", "threads", "instances", "reserved", "limits", "expected"),
    [
        # The embedded default: 5 workers x 4 threads fits easily.
        (
            5,
            4,
            1,
            5,
            PG_DEFAULT,
            {"budget": 92, "per_worker": 18, "pool_size": 4, "max_overflow": 4},
        ),
        # The example deployment.
        (
            3,
            4,
            1,
            5,
            PG_DEFAULT,
            {"budget": 92, "per_worker": 30, "pool_size": 4, "max_overflow": 4},
        ),
        # Three app hosts share the server: each worker gets a third.
        (
            4,
            8,
            3,
            5,
            PG_DEFAULT,
            {"budget": 92, "per_worker": 7, "pool_size": 7, "max_overflow": 0},
        ),
        # PostgreSQL 16+ reserved_connections come off the budget too.
        (
            2,
            4,
            1,
            5,
            ServerLimits(50, 3, 10),
            {"budget": 32, "per_worker": 15, "pool_size": 4, "max_overflow": 4},
        ),
        # A small managed database: fewer connections than threads (warns, starts).
        (
            8,
            4,
            1,
            5,
            ServerLimits(26, 3),
            {"budget": 18, "per_worker": 2, "pool_size": 2, "max_overflow": 0},
        ),
        # Exactly one connection each (after the jobs processes' 2 x 2).
        (
            10,
            2,
            2,
            0,
            ServerLimits(27, 3),
            {"budget": 24, "per_worker": 1, "pool_size": 1, "max_overflow": 0},
        ),
    ],
)
def test_plan_for_deployments(workers, threads, instances, reserved, limits, expected):
    plan = compute_plan(
        workers=workers, threads=threads, instances=instances, reserved=reserved, limits=limits
    )
    assert {key: getattr(plan, key) for key in expected} == expected
    # Every worker's pool and every instance's jobs process fit the budget together.
    assert plan.max_total + plan.jobs_connections <= plan.budget


def test_refuses_when_a_worker_would_get_no_connection():
    with pytest.raises(PoolPlanError) as caught:
        compute_plan(
            workers=13,
            threads=4,
            instances=1,
            reserved=5,
            limits=ServerLimits(max_connections=20, superuser_reserved_connections=3),
        )
    message = str(caught.value)
    assert "\n" not in message
    for fact in ("13 workers", "4 threads", "max_connections=20", "DB_POOL_RESERVED=5"):
        assert fact in message


def test_refuses_when_the_reserve_eats_the_budget():
    with pytest.raises(PoolPlanError, match="leaves -3"):
        compute_plan(workers=1, threads=1, instances=1, reserved=100, limits=PG_DEFAULT)


def test_warns_when_fewer_connections_than_threads():
    tight = compute_plan(workers=8, threads=4, instances=1, reserved=5, limits=ServerLimits(26, 3))
    roomy = compute_plan(workers=3, threads=4, instances=1, reserved=5, limits=PG_DEFAULT)
    assert "2 connection(s) for 4 threads" in tight.warning
    assert roomy.warning is None


def test_no_combination_exceeds_the_budget():
    for workers, threads, instances, reserved, max_conn in itertools.product(
        (1, 2, 3, 5, 9, 17), (1, 2, 4, 8, 32), (1, 2, 3), (0, 5, 20), (10, 25, 100, 500)
    ):
        limits = ServerLimits(max_conn, 3)
        try:
            plan = compute_plan(
                workers=workers,
                threads=threads,
                instances=instances,
                reserved=reserved,
                limits=limits,
            )
        except PoolPlanError:
            assert (max_conn - 3 - reserved - 2 * instances) // (workers * instances) < 1
            continue
        assert 1 <= plan.pool_size <= threads
        assert plan.pool_size + plan.max_overflow <= plan.per_worker
        assert plan.max_total + plan.jobs_connections <= plan.budget


def test_plan_travels_from_master_to_workers_as_json():
    plan = compute_plan(workers=3, threads=4, instances=1, reserved=5, limits=PG_DEFAULT)
    assert PoolPlan.from_json(plan.to_json()) == plan
    contract_keys = {
        "workers",
        "threads",
        "pool_size",
        "max_overflow",
        "server_max_connections",
        "reserved",
        "per_worker",
    }
    assert contract_keys <= plan.as_dict().keys()


@pytest.mark.parametrize(
    "bad", [{"workers": 0}, {"threads": 0}, {"instances": 0}, {"reserved": -1}]
)
def test_rejects_nonsense_inputs(bad):
    args = {"workers": 1, "threads": 1, "instances": 1, "reserved": 0} | bad
    with pytest.raises(PoolPlanError):
        compute_plan(limits=PG_DEFAULT, **args)


# -- behind PgBouncer: two tiers ----------------------------------------------------

BOUNCER_DEFAULTS = BouncerLimits(
    max_client_conn=100, pool_size=20, reserve_pool_size=0, source="environment"
)


@pytest.mark.parametrize(
    ("workers", "threads", "instances", "bouncer", "limits", "expected"),
    [
        # PgBouncer's defaults in front of PostgreSQL's: 64 app connections become 20.
        (
            4,
            8,
            1,
            BOUNCER_DEFAULTS,
            PG_DEFAULT,
            {"per_worker": 24, "pool_size": 8, "max_overflow": 8, "app": 66, "server": 20},
        ),
        # Three instances share one bouncer: each worker gets a third of max_client_conn.
        (
            4,
            8,
            3,
            BOUNCER_DEFAULTS,
            PG_DEFAULT,
            {"per_worker": 7, "pool_size": 7, "max_overflow": 0, "app": 90, "server": 20},
        ),
        # More app connections than the server allows (max_connections 20): fine,
        # the bouncer's pool of 8 + 2 fits the server's budget of 12.
        (
            4,
            8,
            1,
            BouncerLimits(200, 8, 2, source="admin-console"),
            ServerLimits(20, 3),
            {"per_worker": 49, "pool_size": 8, "max_overflow": 8, "app": 66, "server": 10},
        ),
        # A tight max_client_conn: fewer connections than threads (warns, starts).
        (
            4,
            8,
            2,
            BouncerLimits(20, 10, 0, source="environment"),
            PG_DEFAULT,
            {"per_worker": 2, "pool_size": 2, "max_overflow": 0, "app": 20, "server": 10},
        ),
        # max_db_connections caps the server side below pool + reserve.
        (
            2,
            4,
            1,
            BouncerLimits(100, 20, 5, max_db_connections=15, source="admin-console"),
            PG_DEFAULT,
            {"per_worker": 49, "pool_size": 4, "max_overflow": 4, "app": 18, "server": 15},
        ),
    ],
)
def test_two_tier_plans(workers, threads, instances, bouncer, limits, expected):
    plan = compute_pooled_plan(
        workers=workers,
        threads=threads,
        instances=instances,
        reserved=5,
        limits=limits,
        bouncer=bouncer,
    )
    got = {
        "per_worker": plan.per_worker,
        "pool_size": plan.pool_size,
        "max_overflow": plan.max_overflow,
        "app": plan.pooler.app_connections,
        "server": plan.pooler.server_connections,
    }
    assert got == expected
    # The app tier (workers and jobs processes) never exceeds what the bouncer accepts.
    app_tier = plan.max_total + plan.jobs_connections
    assert app_tier == plan.pooler.app_connections <= bouncer.max_client_conn
    assert plan.pooler.server_budget == limits.max_connections - 3 - 5
    assert (plan.per_worker < threads) == any("threads" in w for w in plan.warnings)


def test_two_tier_plan_refuses_when_the_app_tier_cannot_fit():
    with pytest.raises(PoolPlanError) as caught:
        compute_pooled_plan(
            workers=9,
            threads=4,
            instances=2,
            reserved=5,
            limits=PG_DEFAULT,
            bouncer=BouncerLimits(max_client_conn=10, pool_size=5, source="environment"),
        )
    message = str(caught.value)
    assert "\n" not in message
    for fact in ("9 workers x 2 instance(s)", "max_client_conn=10", "raise PgBouncer's"):
        assert fact in message


def test_two_tier_plan_warns_when_the_bouncer_cannot_fit_the_server():
    plan = compute_pooled_plan(
        workers=2,
        threads=4,
        instances=1,
        reserved=5,
        limits=ServerLimits(25, 3),
        bouncer=BouncerLimits(100, 20, 5, source="admin-console"),
    )
    (warning,) = plan.warnings
    assert "PgBouncer may open 25 server connections" in warning
    assert "server allows 17" in warning


def test_two_tier_plan_with_nothing_known_uses_threads_and_says_what_to_set():
    plan = compute_pooled_plan(
        workers=4, threads=8, instances=1, reserved=5, limits=PG_DEFAULT, bouncer=BouncerLimits()
    )
    assert (plan.pool_size, plan.max_overflow, plan.per_worker) == (8, 8, None)
    assert plan.pooler.source == "unknown" and plan.pooler.max_client_conn is None
    (warning,) = plan.warnings
    assert "DB_POOLER_ADMIN_URL" in warning and "PGBOUNCER_MAX_CLIENT_CONN" in warning


def test_bouncer_limits_from_the_environment():
    config = {
        "DB_POOLER_ADMIN_URL": None,
        "PGBOUNCER_MAX_CLIENT_CONN": 300,
        "PGBOUNCER_POOL_SIZE": 25,
        "PGBOUNCER_RESERVE_POOL_SIZE": None,
    }
    assert bouncer_limits(config) == BouncerLimits(300, 25, None, source="environment")
    unset = dict.fromkeys(config)
    assert bouncer_limits(unset) == BouncerLimits(source="unknown")


def test_two_tier_plan_travels_as_json_with_the_contract_keys():
    plan = compute_pooled_plan(
        workers=2,
        threads=4,
        instances=1,
        reserved=5,
        limits=PG_DEFAULT,
        bouncer=BouncerLimits(100, 20, 5, source="admin-console"),
    )
    assert PoolPlan.from_json(plan.to_json()) == plan
    assert {
        "kind",
        "max_client_conn",
        "server_pool_size",
        "reserve_pool_size",
        "app_connections",
        "server_budget",
        "source",
        "warnings",
    } <= plan.as_dict()["pooler"].keys()
