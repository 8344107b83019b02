from django.apps import AppConfig


class VictimsConfig(AppConfig):
    name = "victims"
    verbose_name = "Victim intake"

    def ready(self) -> None:
        # Register the tasks with Celery in every process (web processes run them in-process without a broker).
        from takedown.cases.hooks import case_purging
        from victims import tasks  # noqa: F401
        from victims.hashbank import bank_purge_case

        # The retention purge removes the case's links to the hash bank; takedown never imports victims.
        case_purging.connect(bank_purge_case, dispatch_uid="victims.bank_purge_case")
