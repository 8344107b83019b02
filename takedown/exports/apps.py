from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "takedown.exports"
    label = "exports"
    verbose_name = "Court exports and advocates"
