from django.apps import AppConfig


class RemediesConfig(AppConfig):
    name = "takedown.remedies"
    label = "remedies"
    verbose_name = "Remedies"

    def ready(self) -> None:
        from takedown.remedies import checks  # noqa: F401 - registers the operator's deploy checks
        from takedown.remedies.partner_feedback import partner_hooks_connect

        partner_hooks_connect()
