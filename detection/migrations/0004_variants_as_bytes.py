"""The dihedral variants as raw bytes (bytea), not hex text: half the size, and the index build reads them by
binary COPY with nothing to decode (docs/benchmarks.md, building from PostgreSQL)."""

from django.db import migrations, models


def _hex_to_bytes(apps, schema_editor):
    BankEntry = apps.get_model("detection", "BankEntry")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "UPDATE detection_bankentry SET variants_bytes = decode(variants, 'hex') WHERE variants <> ''")
        return
    for entry_id, text in BankEntry.objects.exclude(variants="").values_list("id", "variants").iterator():
        BankEntry.objects.filter(id=entry_id).update(variants_bytes=bytes.fromhex(text))


def _bytes_to_hex(apps, schema_editor):
    BankEntry = apps.get_model("detection", "BankEntry")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "UPDATE detection_bankentry SET variants = encode(variants_bytes, 'hex') WHERE length(variants_bytes) > 0")
        return
    for entry_id, stored in BankEntry.objects.values_list("id", "variants_bytes").iterator():
        if stored:
            BankEntry.objects.filter(id=entry_id).update(variants=bytes(stored).hex())


class Migration(migrations.Migration):

    dependencies = [
        ("detection", "0003_video_signals"),
    ]

    operations = [
        migrations.AddField(
            model_name="bankentry",
            name="variants_bytes",
            field=models.BinaryField(blank=True, default=b""),
        ),
        migrations.RunPython(_hex_to_bytes, _bytes_to_hex),
        migrations.RemoveField(model_name="bankentry", name="variants"),
        migrations.RenameField(model_name="bankentry", old_name="variants_bytes", new_name="variants"),
    ]
