from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "takedown.cases"
    label = "cases"
    verbose_name = "Cases"

    def ready(self) -> None:
        from takedown.cases.services import partner_feedback_received
        from takedown.partners.hooks import partner_feedback_received as feedback_signal

        # A partner's feedback on a case's hash means a copy turned up: make sure its images carry a verdict
        # from the current detector. The receiver only writes outbox rows, inside the feedback transaction.
        feedback_signal.connect(partner_feedback_received, dispatch_uid="cases.analysis_on_partner_feedback")
