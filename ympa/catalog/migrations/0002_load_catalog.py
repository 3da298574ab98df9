from django.db import migrations

from ympa.catalog.reference import load_catalog


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    load_catalog(apps.get_model("catalog", "Disease"), apps.get_model("catalog", "Product"))


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
