from django.apps import AppConfig


class VictimsConfig(AppConfig):
    name = "victims"
    verbose_name = "Victim intake"
