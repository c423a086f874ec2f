"""``python -m bench <command>`` from the repository root: Stockroom's benchmarks.

They live outside the product package (``app`` never imports them) and build the
app with the same factory and settings as ``flask`` does; run them on a quiet
machine and compare alternating runs (docs/benchmarks.md)."""

from __future__ import annotations

import click
from flask.cli import ScriptInfo

from app import create_app
from bench.cli import bench_console, bench_history, bench_orders, bench_reports
from bench.sampler import bench_sampler


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Stockroom's benchmarks: commands that print numbers."""


for command in (bench_orders, bench_reports, bench_console, bench_history, bench_sampler):
    main.add_command(command)

if __name__ == "__main__":
    # with_appcontext finds the app through the ScriptInfo, as under ``flask``.
    main(obj=ScriptInfo(create_app=create_app), prog_name="python -m bench")
