"""Outbox rows record when their task finished, so the relay can publish again what never did."""

from django.db import migrations, models


def mark_dispatched_completed(apps, schema_editor):
    # Rows dispatched before this migration ran under the old rules: treat them as done rather than replay them.
    OutboxMessage = apps.get_model("core", "OutboxMessage")
    OutboxMessage.objects.filter(dispatched_at__isnull=False).update(completed_at=models.F("dispatched_at"))


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0002_audit_append_only"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboxmessage",
            name="completed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="outboxmessage",
            index=models.Index(fields=["completed_at", "dispatched_at"], name="core_outbox_unfinished"),
        ),
        migrations.RunPython(mark_dispatched_completed, migrations.RunPython.noop),
    ]
