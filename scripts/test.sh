#!/usr/bin/env bash
# The README's second command: run the whole test suite.
# Uses PostgreSQL at 127.0.0.1:5432 when a server is there (starting an installed but
# stopped cluster), SQLite otherwise; uses Redis at 127.0.0.1:6379 when it answers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-seed >/dev/null

echo "==> makemigrations --check"
.venv/bin/python manage.py makemigrations --check --dry-run >/dev/null

port_open() {
  .venv/bin/python - "$1" "$2" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
except OSError:
    sys.exit(1)
PY
}

if [ -z "${DATABASE_URL:-}" ]; then
  if ! port_open 127.0.0.1 5432 && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    version=$(ls /etc/postgresql | sort -V | tail -1)
    echo "==> Starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || pg_ctlcluster "$version" main start || true
    sleep 2
  fi
  if port_open 127.0.0.1 5432; then
    # One database name per run, so two runs on one machine (CI and a developer) never collide.
    export DATABASE_URL="postgres://${PGUSER:-postgres}@127.0.0.1:5432/handover_ci_$$"
  fi
fi
if [ -z "${REDIS_URL:-}" ] && port_open 127.0.0.1 6379; then
  export TEST_REDIS_URL="redis://127.0.0.1:6379/15"
fi
echo "==> Database: ${DATABASE_URL:-SQLite}"

echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check . >/dev/null || { .venv/bin/ruff format --diff . | head -40; exit 1; }
echo "==> import contracts (.importlinter)"
.venv/bin/lint-imports --no-cache >/dev/null || { .venv/bin/lint-imports --no-cache | tail -40; exit 1; }
# Every core runs tests (pytest-xdist), each worker a whole test file at a time, with its own
# test database (pytest-django suffixes it) and its own Redis database (conftest.py); then the
# tests on real transactions, which empty the tables when they end, in one process.
# TEST_WORKERS=0 runs the first part in this one process too.
echo "==> pytest (${TEST_WORKERS:-auto} workers)"
status=0
part() {
  # pytest answers 5 when a part selects no test (files given with only one kind): not a failure.
  local s=0
  .venv/bin/pytest "$@" || s=$?
  if [ "$s" -ne 0 ] && [ "$s" -ne 5 ] && [ "$status" -eq 0 ]; then status=$s; fi
}
part -n "${TEST_WORKERS:-auto}" --dist loadfile -m "not transactional" "$@"
echo "==> pytest: the tests on real transactions"
part -m transactional "$@"
exit "$status"
