from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "takedown.core"
    label = "core"
    verbose_name = "Operator core: audit log, outbox, roles"
