#!/usr/bin/env bash
# The load test: 50 people for 60 s against gunicorn, on PostgreSQL and Redis when they answer.
#   bash scripts/loadtest.sh [users] [seconds]
# Installs the development requirements (locust), loads the demo company into a scratch database
# (handover_load on the local PostgreSQL server, or DATABASE_URL), serves it with gunicorn as in
# production (DEBUG off, collected static files), runs locust headless and prints its table;
# fails when a request failed or a page's p95 is over 250 ms (the login, which waits on the
# password hash by design, apart). Writes artifacts/load/. People arrive LOAD_SPAWN_RATE a second (2).
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-50}
SECONDS_=${2:-60}
PORT=${LOAD_PORT:-8765}
bash scripts/setup.sh --no-seed >/dev/null
.venv/bin/pip install -q -r requirements-dev.txt

port_open() { .venv/bin/python -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=1).close()" "$1" 2>/dev/null; }

if [ -z "${DATABASE_URL:-}" ] && port_open 5432; then
  createdb -h 127.0.0.1 -U "${PGUSER:-postgres}" handover_load 2>/dev/null || true
  export DATABASE_URL="postgres://${PGUSER:-postgres}@127.0.0.1:5432/handover_load"
fi
if [ -z "${REDIS_URL:-}" ] && port_open 6379; then export REDIS_URL="redis://127.0.0.1:6379/14"; fi
export DEBUG=0 SECRET_KEY=${SECRET_KEY:-load-test-only-$(date +%s)} ALLOWED_HOSTS=127.0.0.1,localhost
export SECURE_SSL_REDIRECT=0 SESSION_COOKIE_SECURE=0 CSRF_COOKIE_SECURE=0
echo "==> Database: ${DATABASE_URL:-SQLite}; Redis: ${REDIS_URL:-none}"
.venv/bin/python manage.py migrate --noinput -v0
.venv/bin/python manage.py collectstatic --noinput -v0
.venv/bin/python manage.py seed_demo >/dev/null

mkdir -p artifacts/load
.venv/bin/gunicorn config.wsgi --workers "${WEB_CONCURRENCY:-4}" --bind "127.0.0.1:$PORT" --log-level warning &
GUNICORN=$!
trap 'kill $GUNICORN 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do port_open "$PORT" && break; sleep 0.2; done

.venv/bin/locust -f loadtest/locustfile.py --host "http://127.0.0.1:$PORT" --headless \
  -u "$USERS" -r "${LOAD_SPAWN_RATE:-2}" -t "${SECONDS_}s" --only-summary --csv artifacts/load/run --exit-code-on-error 1 || true

.venv/bin/python - <<'PY'
import csv, sys
rows = list(csv.DictReader(open("artifacts/load/run_stats.csv", encoding="utf-8")))
failed = sum(int(r["Failure Count"]) for r in rows if r["Name"] != "Aggregated")
pages = [r for r in rows if r["Name"] != "Aggregated" and not r["Name"].startswith(("api:", "login"))]
slow = [(r["Name"], r["95%"]) for r in pages if float(r["95%"] or 0) > 250]
total = next(r for r in rows if r["Name"] == "Aggregated")
print(f"==> {total['Request Count']} requests, {failed} failed; p95 of every page ≤ 250 ms: {'yes' if not slow else slow}")
sys.exit(1 if failed or slow else 0)
PY
