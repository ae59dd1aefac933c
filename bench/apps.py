from django.apps import AppConfig


class BenchConfig(AppConfig):
    """The benchmarks (`manage.py bench`): a tool, with no models, imported by no app."""

    name = "bench"
