from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo company and the walk (`manage.py seed_demo`): a tool, with no models, imported by no app."""

    name = "demo"
