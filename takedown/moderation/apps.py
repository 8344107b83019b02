from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "takedown.moderation"
    label = "moderation"
    verbose_name = "Moderation"
