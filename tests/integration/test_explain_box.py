"""The EXPLAIN box (/admin/db/explain/): one typed SELECT explained read-only, as a
tree with its costliest node marked; anything else refused with a form error and
nothing changed."""

import re
import time

import pytest
from browser_forms import csrf_token
from builders import add_product
from sqlalchemy import text

from app.workload.explain_box import refusal

URL = "/admin/db/explain/"


def explain(client, statement: str, *, analyze: bool = False):
    """Submit the form as a browser would."""
    token = csrf_token(client.get(URL).text)
    data = {"statement": statement, "csrf_token": token}
    if analyze:
        data["analyze"] = "y"
    return client.post(URL, data=data)


def form_errors(html: str) -> list[str]:
    return re.findall(r'class="invalid-feedback d-block explain-error">([^<]*)<', html)


def products_state(session) -> tuple[int, int]:
    """Rows and total stock of the products table (it must exist to answer)."""
    row = session.execute(text("SELECT count(*), coalesce(sum(stock), 0) FROM products")).one()
    return row[0], row[1]


@pytest.fixture
def products(session):
    for stock in (3, 5, 7):
        add_product(session, stock=stock)
    return products_state(session)


def test_the_box_is_in_the_database_menu(admin_client):
    page = admin_client.get(URL)
    assert page.status_code == 200
    assert 'name="statement"' in page.text and 'name="analyze"' in page.text
    assert 'href="/admin/db/explain/"' in admin_client.get("/admin/db/pool/").text


def own_shares(tree: str) -> list[tuple[bool, float]]:
    """(marked costliest, its own cost or time) of every node, in tree order."""
    return [
        (bool(marked), float(value.replace(",", "")))
        for marked, value in re.findall(
            r'class="plan-node( costliest)?".*?<span class="self"[^>]*>self ([\d,.]+)', tree, re.S
        )
    ]


def test_a_select_shows_a_tree_with_the_costliest_node_marked(admin_client, products):
    page = explain(
        admin_client,
        "SELECT p.sku, c.email FROM products p JOIN customers c ON c.id = p.id "
        "WHERE p.stock > 4 ORDER BY p.sku",
    )
    assert page.status_code == 200, form_errors(page.text)
    tree = page.text[page.text.index('id="plan-tree"') : page.text.index('id="plan-text"')]
    assert "on products p" in tree and "on customers c" in tree
    assert "est. rows" in tree and "actual rows" not in tree  # nothing was run
    shares = own_shares(tree)
    assert len(shares) >= 3  # a join over two scans at least
    marked = [share for costliest, share in shares if costliest]
    assert marked == [max(share for _, share in shares)]
    assert '<details id="plan-text">' in page.text and "cost=" in page.text


def test_analyze_shows_actual_rows(admin_client, products):
    rows, _ = products
    # A '%' is a character, not a placeholder.
    page = explain(admin_client, "SELECT id, stock FROM products WHERE sku LIKE '%'", analyze=True)
    assert page.status_code == 200, form_errors(page.text)
    scan = page.text[page.text.index('id="plan-tree"') :]
    assert f"actual rows {rows}</span>" in scan
    assert "loops 1" in scan and "Execution" in page.text
    assert 'data-costliest="true"' in scan


@pytest.mark.parametrize(
    ("statement", "says"),
    [
        ("UPDATE products SET stock = 0", "Only a SELECT"),
        ("DELETE FROM products", "Only a SELECT"),
        ("SELECT 1; DROP TABLE products", "One statement at a time"),
        ("WITH gone AS (DELETE FROM products RETURNING id) SELECT * FROM gone", "changes data"),
        ("EXPLAIN SELECT 1", "without EXPLAIN"),
        ("SELECT * FROM products FOR UPDATE", "Locking clauses"),
        ("SELECT * INTO products_copy FROM products", "creates a table"),
        ("SELECT pg_advisory_lock(42)", "acts outside the transaction"),
        ("SELECT id FROM products WHERE", "syntax error at end of input"),
        ("SELEC id FROM products", "not SELEC"),
        ("SELECT * FROM no_such_table", 'relation "no_such_table" does not exist'),
    ],
)
def test_anything_but_one_read_only_select_is_a_form_error_and_changes_nothing(
    admin_client, session, products, statement, says
):
    check_refused(admin_client, session, products, statement, says, analyze_modes=(False, True))


def test_a_write_past_the_check_is_refused_by_the_read_only_transaction(
    admin_client, session, products
):
    sequence = "pg_get_serial_sequence('products', 'id')"
    # Not a data-changing keyword, so the friendly check lets it through; under
    # ANALYZE it runs, and the read-only transaction stops it.
    statement = f"SELECT nextval({sequence})"
    assert refusal(statement) is None
    before = session.execute(text("SELECT last_value FROM products_id_seq")).scalar()
    check_refused(admin_client, session, products, statement, "read-only transaction")
    after = session.execute(text("SELECT last_value FROM products_id_seq")).scalar()
    assert after == before


def check_refused(client, session, products, statement, says, analyze_modes=(True,)):
    """Each mode gives exactly one form error saying ``says``, and no plan; the
    products are as they were."""
    for analyze in analyze_modes:
        page = explain(client, statement, analyze=analyze)
        assert page.status_code == 422
        errors = form_errors(page.text)
        assert len(errors) == 1 and says in errors[0].replace("&#34;", '"'), errors
        assert 'id="plan-tree"' not in page.text
        assert products_state(session) == products
        assert session.execute(text("SELECT to_regclass('products_copy')")).scalar() is None


def test_a_statement_past_the_timeout_is_stopped_quickly(admin_client, app, monkeypatch):
    monkeypatch.setitem(app.config, "DB_EXPLAIN_TIMEOUT_MS", 1000)
    token = csrf_token(admin_client.get(URL).text)
    started = time.monotonic()
    page = admin_client.post(
        URL, data={"statement": "SELECT pg_sleep(10)", "analyze": "y", "csrf_token": token}
    )
    elapsed = time.monotonic() - started
    assert page.status_code == 422
    assert 0.9 <= elapsed < 5
    (error,) = form_errors(page.text)
    assert "1 s limit" in error and "statement timeout" in error
    # The request's transaction survived: the console answers at once afterwards.
    assert admin_client.get(URL).status_code == 200


def test_a_post_without_its_csrf_token_is_refused(admin_client):
    assert admin_client.post(URL, data={"statement": "SELECT 1"}).status_code == 400


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT ';' AS semicolon",
        "select 1;",
        "SELECT 1 -- ; DROP TABLE products",
        "SELECT 1 /* ; /* nested ; */ DELETE */",
        "SELECT $$; DELETE FROM products$$",
        "SELECT $tag$it's ; $tag$",
        'SELECT "update" FROM (SELECT 1 AS "update") t',
        "SELECT E'\\'; DELETE' AS escaped",
        "WITH t AS (SELECT 1 AS updated_at) SELECT updated_at FROM t",
        "(SELECT 1) UNION (SELECT 2)",
    ],
)
def test_text_inside_quotes_and_comments_is_not_mistaken_for_statements(statement):
    assert refusal(statement) is None
