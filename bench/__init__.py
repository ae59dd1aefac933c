"""Speed targets, measured by `manage.py bench` on a throwaway database (see management/commands/bench.py)."""
