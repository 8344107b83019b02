from django.apps import AppConfig


class VictimsConfig(AppConfig):
    name = "victims"
    verbose_name = "Victim intake"

    def ready(self) -> None:
        # Register the tasks with Celery in every process (web processes run them in-process without a broker).
        from victims import tasks  # noqa: F401
