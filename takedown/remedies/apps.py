from django.apps import AppConfig


class RemediesConfig(AppConfig):
    name = "takedown.remedies"
    label = "remedies"
    verbose_name = "Remedies"
