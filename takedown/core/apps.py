from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "takedown.core"
    label = "core"
    verbose_name = "Operator core: audit log, outbox, roles"

    def ready(self) -> None:
        from takedown.core import checks  # noqa: F401 - registers the deploy checks
        from takedown.core.health import CheckResult, health_register
        from takedown.core.heartbeat import detector_health, workers_health

        def workers_check() -> CheckResult:
            ok, info = workers_health()
            # Required: with the broker up but no live worker, nothing queued is ever done.
            return CheckResult(ok, info, required=True)

        health_register("workers", workers_check)

        def detector_check() -> CheckResult:
            ok, info = detector_health()
            # Informational: a platform without a detector still takes reports and matches hashes.
            return CheckResult(ok, info, required=False)

        health_register("detector", detector_check)

        def outbox_check() -> CheckResult:
            from takedown.core.outbox import outbox_backlog

            backlog = outbox_backlog()
            # Informational: work the relay gave up on after OUTBOX_MAX_ATTEMPTS needs an operator's look.
            return CheckResult(backlog["gave_up"] == 0, backlog, required=False)

        health_register("outbox", outbox_check)
