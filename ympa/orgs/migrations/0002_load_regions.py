from django.db import migrations

from ympa.orgs.reference import load_regions


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    load_regions(apps.get_model("orgs", "Region"), apps.get_model("orgs", "Municipality"))


class Migration(migrations.Migration):
    dependencies = [("orgs", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
