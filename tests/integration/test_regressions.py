"""/admin/db/regressions/: statement shapes ranked by how much slower they got after a
deploy, from the history's per-minute rows on either side of the deploy marker."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete

from app.history.models import HistoryEvent, StatementHour, StatementMinute, StatementShape
from app.jobs.models import JobRun
from app.monitoring import latency_buckets
from app.workload.regressions import _side

URL = "/admin/db/regressions/"
# Shapes of our own (16 hex digits, as the app's fingerprints), unlike any the app ran.
SLOWED = "5105ed0000000001"  # 5x slower, busy
DOUBLED = "d0ab1ed000000002"  # 2x slower, busier but cheaper
STEADY = "57eadf0000000003"  # the same
FASTER = "fa57e20000000004"  # 4x faster
RARE = "4a4e000000000005"  # 200x slower, but only a few calls each side


def histogram(seconds: float, calls: int) -> list[int]:
    counts = [0] * latency_buckets.SLOTS
    counts[latency_buckets.slot(seconds)] = calls
    return latency_buckets.trimmed(counts)


def minutes(session, fingerprint, start, count, *, calls, seconds, instance="web-1"):
    """``count`` minutes of ``calls`` executions taking ``seconds`` each."""
    for minute in range(count):
        session.add(
            StatementMinute(
                bucket=start + timedelta(minutes=minute),
                instance=instance,
                fingerprint=fingerprint,
                calls=calls,
                latency_counts=histogram(seconds, calls),
                total_seconds=calls * seconds,
                max_seconds=seconds,
            )
        )


@pytest.fixture
def deploy(session):
    """Version 2 deployed 30 minutes ago, 20 minutes of history on either side, written
    by two instances; the deploy's id."""
    # Only this test's history (undone with its transaction).
    for model in (HistoryEvent, StatementMinute, StatementHour):
        session.execute(delete(model))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    at = now - timedelta(minutes=30)
    session.add(HistoryEvent(kind="deploy", label="v1", at=at - timedelta(hours=6)))
    v2 = HistoryEvent(kind="deploy", label="v2", at=at)
    session.add(v2)
    before, after = at - timedelta(minutes=20), at
    # (fingerprint, calls per minute and instance, seconds before, seconds after)
    for fingerprint, calls, was, now_takes in (
        (SLOWED, 10, 0.010, 0.050),
        (DOUBLED, 50, 0.001, 0.002),
        (STEADY, 30, 0.004, 0.004),
        (FASTER, 30, 0.020, 0.005),
    ):
        session.add(StatementShape(fingerprint=fingerprint, sql=f"SELECT {fingerprint!r}"))
        for instance in ("web-1", "web-2"):
            minutes(session, fingerprint, before, 20, calls=calls, seconds=was, instance=instance)
            minutes(
                session, fingerprint, after, 20, calls=calls, seconds=now_takes, instance=instance
            )
    # Five calls each side: 0.01 s before, 5 s after (25 s added, more than any other).
    session.add(StatementShape(fingerprint=RARE, sql="SELECT 'rare'"))
    minutes(session, RARE, before, 5, calls=1, seconds=0.010)
    minutes(session, RARE, after, 5, calls=1, seconds=5.0)
    # Before the before window (as long as the after one: 30 minutes): not compared.
    # Counted, it would make the slowed statement's "before" as slow as its "after".
    minutes(session, SLOWED, at - timedelta(minutes=45), 1, calls=10_000, seconds=0.050)
    session.commit()
    return v2.id


def ranked(html: str) -> list[str]:
    table = html[html.index('id="regressions"') :]
    return re.findall(r'<tr data-fingerprint="([0-9a-f]{16})" data-rank="\d+">', table)


def row(html: str, fingerprint: str) -> str:
    start = html.index(f'data-fingerprint="{fingerprint}"')
    return html[start : html.index("</tr>", start)]


def test_the_slowed_statement_ranks_first_and_faster_or_rare_ones_are_not_listed(
    admin_client, deploy
):
    page = admin_client.get(f"{URL}?deploy={deploy}")
    assert page.status_code == 200
    # Ranked by added time: 400 calls x 40 ms = 16 s, then 2,000 x 1 ms = 2 s.
    assert ranked(page.text) == [SLOWED, DOUBLED]
    slowed = row(page.text, SLOWED)
    assert "400" in slowed  # calls each side (10 a minute, 20 minutes, 2 instances)
    p95_ratio = float(re.search(r'class="num p95-ratio">([\d.]+)', slowed).group(1))
    mean_ratio = float(re.search(r'class="num mean-ratio">([\d.]+)', slowed).group(1))
    assert mean_ratio == pytest.approx(5.0)
    assert 5 / 1.42 <= p95_ratio <= 5 * 1.42  # within the histogram's resolution
    assert f'href="/admin/db/queries/{SLOWED}' in slowed
    assert "Ranked by added time" in page.text
    # The rare shape ran too few times to judge; it is counted, not ranked.
    assert "1 shape ran on both sides but fewer than" in page.text


def test_the_latest_deploy_is_the_default(admin_client, deploy):
    page = admin_client.get(URL)
    assert page.status_code == 200
    assert ranked(page.text)[0] == SLOWED
    assert f'<option value="{deploy}" selected>v2' in page.text


def test_fewer_required_calls_lets_the_rare_statement_in_at_the_top(admin_client, deploy):
    page = admin_client.get(f"{URL}?deploy={deploy}&min_calls=5")
    assert ranked(page.text) == [RARE, SLOWED, DOUBLED]


def test_a_deploy_with_nothing_after_it_yet(admin_client, session, deploy):
    session.add(HistoryEvent(kind="deploy", label="v3", at=datetime.now(UTC)))
    session.commit()
    page = admin_client.get(URL)
    assert page.status_code == 200
    assert "Nothing recorded since deploy <strong>v3</strong>" in page.text
    # v2's after window now stops at v3: still ranked the same.
    assert ranked(admin_client.get(f"{URL}?deploy={deploy}").text) == [SLOWED, DOUBLED]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("deploy=999999999", 404),
        ("deploy=abc", 400),
        ("deploy=-1", 400),
        ("deploy=99999999999999999999999", 400),
        ("min_calls=0", 400),
        ("min_calls=%00", 400),
    ],
)
def test_bad_parameters_are_refused_not_a_500(admin_client, deploy, query, status):
    assert admin_client.get(f"{URL}?{query}").status_code == status


def test_no_deploy_recorded(admin_client, session):
    session.execute(delete(HistoryEvent))
    session.commit()
    page = admin_client.get(URL)
    assert page.status_code == 200 and 'id="no-deploys"' in page.text


def test_whole_folded_hours_are_read_from_the_hourly_table(admin_client, session):
    """A deploy three hours ago: its windows' whole hours come from the hourly folds
    (up to the fold's watermark), the rest from the minutes."""
    for model in (HistoryEvent, StatementMinute, StatementHour):
        session.execute(delete(model))
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    session.add(HistoryEvent(kind="deploy", label="v9", at=hour))
    session.add(
        JobRun(job="history-fold-hour", period_start=hour + timedelta(hours=1), claimed_by="t")
    )
    session.add(StatementShape(fingerprint=SLOWED, sql="SELECT 'slowed'"))
    for offset, seconds in ((-2, 0.01), (-1, 0.01), (0, 0.03), (1, 0.03)):
        session.add(
            StatementHour(
                bucket=hour + timedelta(hours=offset),
                instance="web-1",
                fingerprint=SLOWED,
                calls=600,
                latency_counts=histogram(seconds, 600),
                total_seconds=600 * seconds,
                max_seconds=seconds,
            )
        )
    # After the watermark: minutes (this one's hour is not folded yet).
    minutes(session, SLOWED, hour + timedelta(hours=2), 3, calls=100, seconds=0.03)
    session.commit()
    page = admin_client.get(URL)
    assert ranked(page.text) == [SLOWED]
    slowed = row(page.text, SLOWED)
    assert '<td class="num">1,200</td>' in slowed and '<td class="num">1,500</td>' in slowed


def test_a_side_inside_one_hour_reads_only_its_minutes():
    # 07:02 to 07:32: no whole hour inside, so no minute outside it may be read
    # (the minutes' range is [start, hours_from) plus [hours_to, end)).
    start = datetime(2026, 12, 5, 7, 2, tzinfo=UTC)
    end = start + timedelta(minutes=30)
    for folded in (None, datetime(2026, 12, 5, 6, tzinfo=UTC)):
        side = _side(start, end, folded)
        assert start <= side.hours_from <= side.hours_to <= end
