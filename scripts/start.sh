#!/usr/bin/env bash
# The README's first command: set everything up, load the demo, and serve on port 8000.
# With no REDIS_URL, reminders run without a broker: tasks execute in the web process and
# `manage.py run_scheduler --loop` stands in for Celery beat in the background.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${REDIS_URL:-}" ]; then
  mkdir -p var
  .venv/bin/python manage.py run_scheduler --loop >var/scheduler.log 2>&1 &
  scheduler=$!
  trap 'kill $scheduler 2>/dev/null || true' EXIT
  echo "==> Reminder scan running in the background (log: var/scheduler.log)"
fi
echo "==> Open http://127.0.0.1:${PORT:-8000}/ and log in with a demo account from the README."
.venv/bin/python manage.py runserver "${HOST:-0.0.0.0}:${PORT:-8000}"
