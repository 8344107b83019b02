"""Seed the host directory with the search engines that take de-linking requests (web forms only)."""

from django.db import migrations

# A frozen copy of takedown.remedies.directory.SEARCH_ENGINES: migrations must not change when that does.
SEARCH_ENGINES = (
    ("google.com", "Google Search", "https://support.google.com/websearch/answer/6302812"),
    ("bing.com", "Microsoft Bing", "https://www.microsoft.com/en-us/concern/revengeporn"),
)


def seed(apps, schema_editor):
    Host = apps.get_model("remedies", "Host")
    for domain, name, form in SEARCH_ENGINES:
        Host.objects.get_or_create(domain=domain, defaults={
            "name": name, "kind": "search_engine", "web_form_url": form, "jurisdiction": "US",
            "offers_services_in_eu": True, "contact_source": "directory",
        })


class Migration(migrations.Migration):
    dependencies = [("remedies", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
