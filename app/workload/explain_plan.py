"""An EXPLAIN (FORMAT JSON) plan as a tree to read: per node its type, relation and
index, estimated against actual rows, time and loops, its exclusive share (time
under ANALYZE, else cost), the costliest node marked; and the plan as indented text.

Exclusive means the node's own work: its inclusive figure minus its children's.
Under ANALYZE a node's inclusive time is its per-loop ``Actual Total Time`` times
its loops; without it, the planner's ``Total Cost`` (already inclusive).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Conditions PostgreSQL's text format prints under a node, in its order.
_CONDITIONS = (
    "Hash Cond",
    "Merge Cond",
    "Index Cond",
    "Recheck Cond",
    "Join Filter",
    "Filter",
    "Sort Key",
    "Group Key",
)


@dataclass
class PlanNode:
    """One node of a plan."""

    node_type: str
    target: str  # "on orders o", "using ix on t", "" ...
    plan_rows: float
    startup_cost: float
    total_cost: float
    width: int
    actual_rows: float | None = None
    actual_ms: float | None = None  # per loop, inclusive
    actual_startup_ms: float | None = None
    loops: int | None = None
    conditions: list[tuple[str, str]] = field(default_factory=list)
    relationship: str | None = None  # InitPlan, SubPlan, Outer, Inner ...
    children: list[PlanNode] = field(default_factory=list)
    exclusive: float = 0.0  # ms under ANALYZE, else cost units
    costliest: bool = False

    @property
    def analyzed(self) -> bool:
        return self.loops is not None

    @property
    def total_ms(self) -> float | None:
        """Inclusive time over all loops."""
        if self.actual_ms is None or self.loops is None:
            return None
        return self.actual_ms * self.loops

    @property
    def never_executed(self) -> bool:
        return self.loops == 0

    def walk(self):
        """This node and every node below it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class Plan:
    """A whole plan: its root, timings and the text rendering."""

    root: PlanNode
    analyzed: bool
    planning_ms: float | None
    execution_ms: float | None
    text: str

    @property
    def costliest(self) -> PlanNode:
        return next(node for node in self.root.walk() if node.costliest)


def _title(raw: dict[str, Any]) -> str:
    node = raw.get("Node Type", "?")
    join = raw.get("Join Type")
    if join and join != "Inner":
        node = f"{node} ({join})"
    strategy = raw.get("Strategy")
    if node == "Aggregate" and strategy and strategy != "Plain":
        node = f"{strategy} Aggregate"
    if raw.get("Parallel Aware"):
        node = f"Parallel {node}"
    return node


def _target(raw: dict[str, Any]) -> str:
    parts = []
    if index := raw.get("Index Name"):
        parts.append(f"using {index}")
    if relation := raw.get("Relation Name"):
        alias = raw.get("Alias")
        parts.append(f"on {relation}" + (f" {alias}" if alias and alias != relation else ""))
    elif cte := raw.get("CTE Name"):
        parts.append(f"on {cte}")
    elif function := raw.get("Function Name"):
        parts.append(f"on {function}()")
    elif subplan := raw.get("Subplan Name"):
        parts.append(subplan)
    return " ".join(parts)


def _node(raw: dict[str, Any]) -> PlanNode:
    node = PlanNode(
        node_type=_title(raw),
        target=_target(raw),
        plan_rows=float(raw.get("Plan Rows", 0)),
        startup_cost=float(raw.get("Startup Cost", 0)),
        total_cost=float(raw.get("Total Cost", 0)),
        width=int(raw.get("Plan Width", 0)),
        relationship=raw.get("Parent Relationship"),
    )
    if "Actual Loops" in raw:
        node.loops = int(raw["Actual Loops"])
        node.actual_rows = float(raw.get("Actual Rows", 0))
        node.actual_ms = float(raw.get("Actual Total Time", 0))
        node.actual_startup_ms = float(raw.get("Actual Startup Time", 0))
    for key in _CONDITIONS:
        if key in raw:
            value = raw[key]
            node.conditions.append((key, ", ".join(value) if isinstance(value, list) else value))
    node.children = [_node(child) for child in raw.get("Plans", [])]
    return node


def _exclusive(node: PlanNode) -> None:
    for child in node.children:
        _exclusive(child)
    if node.analyzed:
        own = (node.total_ms or 0.0) - sum(child.total_ms or 0.0 for child in node.children)
    else:
        own = node.total_cost - sum(child.total_cost for child in node.children)
    # Parallel workers and CTEs shared between nodes can make the difference negative.
    node.exclusive = max(own, 0.0)


def rows_text(rows: float | None) -> str:
    """Row counts: whole numbers grouped, fractions (PostgreSQL 18 averages per
    loop) with two decimals."""
    if rows is None:
        return ""
    return f"{rows:,.0f}" if rows == int(rows) else f"{rows:,.2f}"


def _line(node: PlanNode) -> str:
    head = f"{node.node_type} {node.target}".strip()
    line = (
        f"{head}  (cost={node.startup_cost:.2f}..{node.total_cost:.2f} "
        f"rows={node.plan_rows:.0f} width={node.width})"
    )
    if node.never_executed:
        return line + " (never executed)"
    if node.analyzed:
        line += (
            f" (actual time={node.actual_startup_ms:.3f}..{node.actual_ms:.3f} "
            f"rows={rows_text(node.actual_rows)} loops={node.loops})"
        )
    return line


def _text(node: PlanNode, depth: int, lines: list[str]) -> None:
    pad = "      " * depth
    if node.relationship in ("InitPlan", "SubPlan") and depth:
        lines.append(f"{pad[:-4]}{node.relationship}")
    lines.append(f"{pad[:-6]}  ->  {_line(node)}" if depth else _line(node))
    for key, value in node.conditions:
        lines.append(f"{pad}  {key}: {value}")
    for child in node.children:
        _text(child, depth + 1, lines)


def parse(document: Any) -> Plan:
    """A Plan from EXPLAIN (FORMAT JSON)'s one value (a list of one object)."""
    top = document[0] if isinstance(document, list) else document
    root = _node(top["Plan"])
    _exclusive(root)
    # The first of equals: the outermost (where the reader starts).
    max(root.walk(), key=lambda n: n.exclusive).costliest = True
    lines: list[str] = []
    _text(root, 0, lines)
    planning = top.get("Planning Time")
    execution = top.get("Execution Time")
    if planning is not None:
        lines.append(f"Planning Time: {planning:.3f} ms")
    if execution is not None:
        lines.append(f"Execution Time: {execution:.3f} ms")
    return Plan(root, root.analyzed, planning, execution, "\n".join(lines))
