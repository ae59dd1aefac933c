"""The demo company (`manage.py seed_demo`) and the walk that plays a handover forward as each person."""
