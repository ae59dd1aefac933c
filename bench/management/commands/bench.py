"""Measure the speed targets on a throwaway database and print one table.

    python manage.py bench                  # scratch SQLite in a temporary directory
    python manage.py bench -k client_list   # only the benchmarks whose name contains this
    python manage.py bench --database-url postgres://postgres@127.0.0.1:5432/handover
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/handover python manage.py bench   # the same

A benchmark is a function named bench_* in a module bench/bench_*.py (this package). It
builds its own data and returns rows: {"name", "seconds", "queries" (optional), "target",
"ok" (optional)}. Each runs inside a transaction that is rolled back afterwards, so
benchmarks do not see each other's data (and on_commit callbacks do not fire unless the
benchmark runs them itself).

The developer's database is never touched: the command runs again in a child process whose
DATABASE_URL points at the server given with --database-url, else at the server of the
DATABASE_URL it was started with, else (no URL, or a SQLite one) at a scratch SQLite file in a
temporary directory; the child works in a test database that Django creates
next to it and destroys at the end. A missed target is marked in the table, not an error.
"""

import importlib
import inspect
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unicodedata
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test.utils import setup_test_environment, teardown_test_environment

BENCH_PACKAGE = "bench"
CHILD_ENV = "HANDOVER_BENCH_CHILD"


@dataclass(frozen=True)
class Bench:
    name: str  # module.function, what -k matches against
    function: Callable[[], list[dict]]


def discover(pattern: str = "") -> list[Bench]:
    """Every bench_* function of every bench/bench_*.py, in file and definition order."""
    found = []
    package = importlib.import_module(BENCH_PACKAGE)
    for path in sorted(Path(package.__path__[0]).glob("bench_*.py")):
        module = importlib.import_module(f"{BENCH_PACKAGE}.{path.stem}")
        for name, function in vars(module).items():
            if name.startswith("bench_") and inspect.isfunction(function) and function.__module__ == module.__name__:
                found.append(Bench(f"{module.__name__}.{name}", function))
    pattern = pattern.lower()
    return [bench for bench in found if pattern in bench.name.lower()]


def run_benchmarks(benches: list[Bench], *, write: Callable[[str], None] = lambda _line: None) -> list[dict]:
    rows = []
    for bench in benches:
        write(f"running {bench.name} ...")
        started = time.perf_counter()
        try:
            block = transaction.atomic()
            # As TestCase does: the rollback block must not trip atomic(durable=True) in services.
            block._from_testcase = True
            with block:
                result = list(bench.function())
                transaction.set_rollback(True)
        except Exception as exc:  # one broken benchmark must not hide the others' results
            result = [{"name": bench.name, "target": "", "ok": False, "error": f"{type(exc).__name__}: {exc}"}]
        write(f"  done in {time.perf_counter() - started:.1f} s")
        rows.extend(result)
    return rows


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def format_ok(row: dict) -> str:
    if row.get("error"):
        return "ERROR"
    ok = row.get("ok")
    if ok is None:
        return ""
    return "yes" if ok else "MISSED"


def _width(text: str) -> int:
    # Chinese characters take two columns in a terminal.
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def child_database_url(option: str, environ: dict, scratch: Path) -> str:
    """The database the benchmarks run on: --database-url, else a server named by DATABASE_URL.

    A SQLite DATABASE_URL is the developer's own file: the run goes to a scratch file instead,
    on the same engine, rather than creating a test database next to theirs.
    """
    url = option or environ.get("DATABASE_URL", "")
    if not url or url.startswith("sqlite"):
        return f"sqlite:///{scratch / 'bench.sqlite3'}"
    return url


def describe_database() -> str:
    """Which engine, version and database this run measured, for the foot of the table."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        return f"PostgreSQL {version}, database {connection.settings_dict['NAME']}"
    if connection.vendor == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}, file {connection.settings_dict['NAME']}"
    return f"{connection.vendor}, database {connection.settings_dict['NAME']}"


def format_table(rows: list[dict], *, database: str = "") -> str:
    header = ("name", "time", "queries", "target", "ok")
    cells = [
        (
            str(row.get("name", "")),
            format_seconds(row.get("seconds")),
            "—" if row.get("queries") is None else str(row["queries"]),
            str(row.get("target", "")),
            format_ok(row),
        )
        for row in rows
    ]
    widths = [max(_width(line[i]) for line in [header, *cells]) for i in range(len(header))]
    lines = [
        "  ".join(_pad(cell, width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, tuple("-" * w for w in widths), *cells]
    ]
    if database:
        lines += ["", f"Database: {database}"]
    errors = [f"{row['name']}: {row['error']}" for row in rows if row.get("error")]
    if errors:
        lines += ["", "Errors:", *(f"  {e}" for e in errors)]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Run the benchmarks (bench/bench_*.py) on a scratch database and print one table."

    def add_arguments(self, parser):
        parser.add_argument("-k", dest="pattern", default="", help="Only benchmarks whose name contains this.")
        parser.add_argument(
            "--database-url",
            default="",
            help="Bench on this server (e.g. PostgreSQL) instead of scratch SQLite; "
            "a separate test database is created there and dropped afterwards.",
        )

    def handle(self, *args, pattern="", database_url="", **options):
        if os.environ.get(CHILD_ENV) == "1":
            self._run_here(pattern)
        else:
            self._run_in_child(pattern, database_url)

    def _run_in_child(self, pattern: str, database_url: str) -> None:
        scratch = tempfile.mkdtemp(prefix="handover-bench-")
        try:
            env = {
                **os.environ,
                CHILD_ENV: "1",
                "PYTHONUNBUFFERED": "1",  # progress lines as they happen, not at the end
                "DATABASE_URL": child_database_url(database_url, os.environ, Path(scratch)),
            }
            command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "bench"]
            if pattern:
                command += ["-k", pattern]
            child = subprocess.Popen(  # noqa: S603 - our own manage.py with our own arguments
                command,
                cwd=settings.BASE_DIR,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for line in child.stdout:
                self.stdout.write(line, ending="")
            if child.wait() != 0:
                raise CommandError(f"The benchmark run failed (exit status {child.returncode}).")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _run_here(self, pattern: str) -> None:
        benches = discover(pattern=pattern)
        if not benches:
            self.stdout.write(f"No benchmark matches {pattern!r}.")
            return
        test_settings = connection.settings_dict.setdefault("TEST", {})
        if connection.vendor == "sqlite":
            # A file rather than Django's default in-memory test database: closer to real use.
            test_settings["NAME"] = str(Path(connection.settings_dict["NAME"]).with_name("bench-test.sqlite3"))
        else:
            test_settings["NAME"] = f"{connection.settings_dict['NAME']}_bench"
        self.stdout.write(f"Database: {connection.vendor} {test_settings['NAME']} (created for this run)")
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        setup_test_environment(debug=False)
        try:
            with warnings.catch_warnings():
                # WhiteNoise complains that collectstatic has not run; static files are not measured.
                warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
                rows = run_benchmarks(benches, write=self.stdout.write)
                database = describe_database()
        finally:
            teardown_test_environment()
            connection.creation.destroy_test_db(old_name, verbosity=0)
        self.stdout.write("")
        self.stdout.write(format_table(rows, database=database))
        if any(row.get("error") for row in rows):
            raise CommandError("A benchmark failed; see the errors above.")
