PY := .venv/bin/python

.PHONY: help setup run test lint fmt seed messages bench

help: ## List the jobs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## Install everything, migrate, load demo data
	bash scripts/setup.sh

run: ## Set up and serve on :8000 (the README's first command)
	bash scripts/start.sh

test: ## Lint, migration check and the whole test suite (the README's second command)
	bash scripts/test.sh

lint: ## ruff check, format check and the import contracts (.importlinter)
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/lint-imports --no-cache

fmt: ## Format and fix with ruff
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

seed: ## Load the demo data again (idempotent)
	$(PY) manage.py seed_demo

messages: ## Extract and compile translations
	$(PY) manage.py makemessages -l zh_Hans -l en --ignore=.venv --ignore=staticfiles
	$(PY) manage.py compilemessages --ignore=.venv

bench: ## Measure speed targets and print a table
	$(PY) manage.py bench
