"""The pool plan: connection budgets for several deployments, and the refusal."""

import itertools

import pytest

from app.db.pool_plan import PoolPlan, PoolPlanError, ServerLimits, compute_plan

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
            {"budget": 32, "per_worker": 16, "pool_size": 4, "max_overflow": 4},
        ),
        # A small managed database: fewer connections than threads (warns, starts).
        (
            8,
            4,
            1,
            5,
            ServerLimits(25, 3),
            {"budget": 17, "per_worker": 2, "pool_size": 2, "max_overflow": 0},
        ),
        # Exactly one connection each.
        (
            10,
            2,
            2,
            0,
            ServerLimits(23, 3),
            {"budget": 20, "per_worker": 1, "pool_size": 1, "max_overflow": 0},
        ),
    ],
)
def test_plan_for_deployments(workers, threads, instances, reserved, limits, expected):
    plan = compute_plan(
        workers=workers, threads=threads, instances=instances, reserved=reserved, limits=limits
    )
    assert {key: getattr(plan, key) for key in expected} == expected
    assert plan.max_total <= plan.budget


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
    tight = compute_plan(workers=8, threads=4, instances=1, reserved=5, limits=ServerLimits(25, 3))
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
            assert (max_conn - 3 - reserved) // (workers * instances) < 1
            continue
        assert 1 <= plan.pool_size <= threads
        assert plan.pool_size + plan.max_overflow <= plan.per_worker
        assert plan.max_total <= plan.budget


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
