import re
from io import StringIO

from django.core.management import call_command

from accounts.models import Department
from bench.bench_list import bench_large_book_search
from bench.bench_page import MAX_QUERIES, bench_handover_page
from bench.bench_pdf import bench_confirmation_pdf, bench_final_approval_archive
from bench.management.commands import bench as bench_command
from bench.management.commands.bench import Bench, discover, format_table, run_benchmarks


def test_discovery_finds_the_client_list_benchmark():
    names = [bench.name for bench in discover()]
    assert "bench.bench_list.bench_client_list" in names
    assert all(name.split(".")[-1].startswith("bench_") for name in names)
    assert [bench.name for bench in discover(pattern="CLIENT_LIST")] == ["bench.bench_list.bench_client_list"]
    assert discover(pattern="no-such-benchmark") == []


def test_the_table_marks_met_and_missed_targets_and_errors():
    table = format_table(
        [
            {"name": "fast page", "seconds": 0.012, "queries": 7, "target": "≤ 15 queries", "ok": True},
            {"name": "slow import", "seconds": 1.5, "target": "≤ 1 s", "ok": False},
            {"name": "no target", "seconds": None},
            {"name": "broken", "target": "", "ok": False, "error": "ValueError: boom"},
        ]
    )
    lines = table.splitlines()
    assert lines[0].split() == ["name", "time", "queries", "target", "ok"]
    assert lines[2].split() == ["fast", "page", "12.0", "ms", "7", "≤", "15", "queries", "yes"]
    assert lines[3].split()[-1] == "MISSED" and "1.50 s" in lines[3] and "—" in lines[3]
    assert lines[5].split()[-1] == "ERROR"
    assert "broken: ValueError: boom" in table
    # Columns line up although the target holds a non-ASCII character.
    assert len({line.index("target") for line in lines[:1]}) == 1
    assert lines[2].index("≤") == lines[0].index("target")


def test_each_benchmark_is_rolled_back_and_a_failure_does_not_stop_the_others(db):
    def bench_writes():
        Department.objects.create(code="TMP", name="临时")
        return [{"name": "writes", "seconds": 0.1, "target": "", "ok": True}]

    def bench_breaks():
        raise ValueError("boom")

    rows = run_benchmarks([Bench("fake.bench_writes", bench_writes), Bench("fake.bench_breaks", bench_breaks)])
    assert [row["name"] for row in rows] == ["writes", "fake.bench_breaks"]
    assert rows[1]["error"] == "ValueError: boom"
    assert not Department.objects.filter(code="TMP").exists()


def test_the_command_runs_in_a_child_process_on_a_scratch_database():
    out = StringIO()
    call_command("bench", "-k", "no-such-benchmark", stdout=out)
    assert "No benchmark matches 'no-such-benchmark'." in out.getvalue()


def test_the_page_benchmark_runs_on_a_small_book(db):
    plan, plan_size, visits, visits_size = bench_handover_page(clients=5)
    assert plan["name"].startswith("handover page, 5 clients") and visits["name"] != plan["name"]
    for row in (plan, visits):
        assert row["queries"] <= MAX_QUERIES and row["seconds"] > 0
    for row in (plan_size, visits_size):
        # A small book's page is mostly its frame: far below the size, far above the ratio.
        assert re.match(r"  its HTML: \d+ KB, [\d.]+× the dump of its rows", row["name"])


def test_the_pdf_benchmark_runs_on_a_small_book(db):
    render, archive, serve = bench_confirmation_pdf(clients=3)
    assert render["name"].startswith("confirmation PDF, 3 clients") and render["seconds"] > 0
    assert archive["seconds"] > 0
    assert serve["queries"] <= 5 and serve["seconds"] > 0


def test_the_final_approval_benchmark_runs_on_a_small_book(db):
    annex, approval, archived = bench_final_approval_archive(clients=3)
    assert annex["name"].startswith("annex printed ahead") and annex["seconds"] > 0
    assert approval["name"] == "final approval of 3 clients answers" and approval["seconds"] > 0
    assert archived["seconds"] > 0 and "ok" in archived


def _child_environment(monkeypatch, *, argv: tuple = (), environ: dict) -> dict:
    """The environment the command gives its child process, with the child itself faked out."""
    seen = {}

    class FakeChild:
        def __init__(self, command, **kwargs):
            seen.update(kwargs["env"])
            self.stdout = iter(())
            self.returncode = 0

        def wait(self):
            return 0

    for key in ("DATABASE_URL",):
        monkeypatch.delenv(key, raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(bench_command.subprocess, "Popen", FakeChild)
    call_command("bench", *argv, stdout=StringIO())
    return seen


def test_the_command_benches_on_the_server_named_by_database_url(monkeypatch):
    server = "postgres://postgres@127.0.0.1:5432/somewhere"
    env = _child_environment(monkeypatch, environ={"DATABASE_URL": server})
    assert env["DATABASE_URL"] == server
    # --database-url still wins over the environment.
    other = "postgres://postgres@127.0.0.1:5432/other"
    env = _child_environment(monkeypatch, argv=("--database-url", other), environ={"DATABASE_URL": server})
    assert env["DATABASE_URL"] == other


def test_without_a_server_the_command_benches_on_a_scratch_sqlite_file(monkeypatch, tmp_path):
    mine = f"sqlite:///{tmp_path / 'mine.sqlite3'}"
    for environ in ({}, {"DATABASE_URL": mine}):
        env = _child_environment(monkeypatch, environ=environ)
        assert env["DATABASE_URL"].startswith("sqlite:///") and env["DATABASE_URL"] != mine
        assert env["DATABASE_URL"].endswith("bench.sqlite3")


def test_the_table_says_which_database_it_measured():
    table = format_table([{"name": "page", "seconds": 0.01}], database="PostgreSQL 15.4, database h_bench")
    assert table.splitlines()[-1] == "Database: PostgreSQL 15.4, database h_bench"
    assert "Database:" not in format_table([{"name": "page", "seconds": 0.01}])


def test_the_large_book_benchmark_runs_on_a_small_book(db):
    rows = bench_large_book_search(clients=200, repeat=2)
    assert rows[0]["name"].startswith("large book: 200 clients built")
    measured = rows[1:]
    assert len(measured) == 10 and all(row["seconds"] > 0 and row["queries"] for row in measured)
    assert {row["name"].split(", ")[0] for row in measured} == {"list 200: manager", "list 200: supervisor"}


def test_the_dashboard_benchmark_runs_on_a_small_company(db):
    from bench.bench_dashboard import MAX_QUERIES as DASHBOARD_MAX_QUERIES
    from bench.bench_dashboard import bench_dashboard

    rows = bench_dashboard(handovers=10, clients=300)
    assert rows[0]["name"].startswith("dashboard: manager, 10 handovers, 300 clients")
    for row in rows:
        assert row["queries"] <= DASHBOARD_MAX_QUERIES and row["seconds"] > 0
