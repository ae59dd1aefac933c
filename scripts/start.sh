#!/usr/bin/env bash
# The README's first command: set everything up, load the demo, and serve on port 8000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "==> Open http://127.0.0.1:${PORT:-8000}/ and log in with a demo account from the README."
exec .venv/bin/python manage.py runserver "${HOST:-0.0.0.0}:${PORT:-8000}"
