from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "takedown.partners"
    label = "partners"
    verbose_name = "Partner platforms: keys, feedback, webhooks"
