"""Seed DuckDuckGo, Yandex and Baidu beside Google and Bing (search engines get de-linking requests only).

DuckDuckGo and Baidu have no request form on file: their entries carry none, so their de-linking requests show
moderators "needs a channel" until one is recorded.
"""

from django.db import migrations

# A frozen copy of part of takedown.remedies.directory.SEARCH_ENGINES: migrations must not change when that does.
SEARCH_ENGINES = (
    ("duckduckgo.com", "DuckDuckGo", "", "US", True),
    ("yandex.com", "Yandex Search", "https://yandex.com/support/abuse/troubleshooting/deepfake.html", "", False),
    ("baidu.com", "Baidu Search", "", "CN", False),
)


def seed(apps, schema_editor):
    Host = apps.get_model("remedies", "Host")
    for domain, name, form, jurisdiction, serves_eu in SEARCH_ENGINES:
        Host.objects.update_or_create(domain=domain, defaults={
            "name": name, "kind": "search_engine", "web_form_url": form, "jurisdiction": jurisdiction,
            "offers_services_in_eu": serves_eu, "contact_source": "directory" if form else "none",
            "abuse_email": "",
        })


class Migration(migrations.Migration):
    dependencies = [("remedies", "0003_court_orders_and_needs_channel")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
