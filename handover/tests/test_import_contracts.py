"""Imports run one way: the contracts in .importlinter hold (also checked by `make lint` and
scripts/test.sh). clients, accounts and notifications never import handover; inside handover,
views / API / tasks sit above the services, the services above the selectors, the selectors
above signing, the models and policy."""

from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_hold(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / ".importlinter"), no_cache=True, no_logo=True) == 0
