from django.apps import AppConfig


class DetectionConfig(AppConfig):
    name = "detection"
    verbose_name = "Detection: hashing, hash bank, matching, detector"

    def ready(self) -> None:
        from detection import checks  # noqa: F401 - registers the deploy check of the compiled parts
