#!/usr/bin/env bash
# Take this machine to a ready project: system packages (when root with apt), a virtualenv
# with the pinned requirements, compiled translations, migrated database.
#   scripts/setup.sh          also loads the demo data (idempotent)
#   scripts/setup.sh --no-seed
set -euo pipefail
cd "$(dirname "$0")/.."

seed=1
for arg in "$@"; do
  case "$arg" in
    --no-seed) seed=0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

# System packages the project needs: gettext (compilemessages), Pango and HarfBuzz's subset
# library (WeasyPrint), a CJK font (Chinese in PDFs), poppler-utils (PDF checks in tests),
# chromium (the browser tests drive it through Playwright; `playwright install` is never run).
SYSTEM_PACKAGES=(gettext libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk poppler-utils chromium)
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> Installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "!! Please install these system packages (Debian/Ubuntu names), then run again:" >&2
    echo "   sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "!! Python 3.11 or newer is needed ($PYTHON is $("$PYTHON" --version 2>&1))." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> Creating the virtualenv in .venv"
  if ! "$PYTHON" -m venv .venv; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      rm -rf .venv && "$PYTHON" -m venv .venv
    else
      echo "!! python3 -m venv failed: install the python3-venv package." >&2
      exit 1
    fi
  fi
fi

stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> Installing Python packages"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  echo "$want" > "$stamp"
fi

if compgen -G "locale/*/LC_MESSAGES/*.po" >/dev/null; then
  echo "==> Compiling translations"
  .venv/bin/python manage.py compilemessages -v0 --ignore=.venv
fi
echo "==> Migrating the database"
.venv/bin/python manage.py migrate -v0
echo "==> Company seal for archived confirmations (kept in var/seal/ unless SEAL_* say otherwise)"
.venv/bin/python manage.py seal_setup
if [ "$seed" = 1 ]; then
  echo "==> Loading demo data"
  .venv/bin/python manage.py seed_demo
fi
echo "==> Ready."
