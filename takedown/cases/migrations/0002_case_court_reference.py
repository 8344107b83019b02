"""A court reference for every case, apart from the person's own login reference.

Added in three steps (nullable, filled one by one, then unique) so existing cases each get their own value.
"""

from django.db import migrations, models

import takedown.cases.models


def fill(apps, schema_editor):  # type: ignore[no-untyped-def]
    Case = apps.get_model("cases", "Case")
    taken: set[str] = set()
    for case in Case.objects.filter(court_reference__isnull=True).only("id").iterator():
        value = takedown.cases.models.court_reference_new()
        while value in taken:
            value = takedown.cases.models.court_reference_new()
        taken.add(value)
        Case.objects.filter(id=case.id).update(court_reference=value)


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]

    operations = [
        migrations.AddField(model_name="case", name="court_reference",
                            field=models.CharField(max_length=24, null=True)),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(model_name="case", name="court_reference",
                              field=models.CharField(default=takedown.cases.models.court_reference_new, max_length=24,
                                                     unique=True)),
    ]
