"""Chain the rows written before the log had chains, so that an upgraded database verifies.

Rows are walked in id order (the order they were written) and each joins the chain the append path would
give it today. The append-only trigger is lifted for this one UPDATE and put back.
"""

from django.conf import settings
from django.db import migrations

from ympa.access.chain import GENESIS, chain_for, derive_keys, detail_text, event_header, row_mac, uuid_hex
from ympa.core.triggers import Guard, install, uninstall

EVENT_GUARD = Guard(
    name="access_auditevent_append_only",
    table="access_auditevent",
    message="the audit log is append-only",
    refuse_all_deletes=True,
)
BATCH = 2000


def chain_rows(apps, schema_editor):  # type: ignore[no-untyped-def]
    AuditEvent = apps.get_model("access", "AuditEvent")
    AuditChainHead = apps.get_model("access", "AuditChainHead")
    if not AuditEvent.objects.filter(seq__isnull=True).exists():
        return
    row_key, _anchor_key = derive_keys(settings.AUDIT_LOG_KEY)
    uninstall(schema_editor, [EVENT_GUARD])
    heads: dict[int, tuple[int, str]] = {}
    batch = []
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=BATCH):
        event.chain = chain_for(
            care_provider_id=event.care_provider_id, patient_id=uuid_hex(event.patient_id)
        )
        last_seq, last_hash = heads.get(event.chain, (0, GENESIS))
        event.seq, event.prev_hash = last_seq + 1, last_hash
        event.row_hash = row_mac(row_key, event_header(event), detail_text(event.detail))
        heads[event.chain] = (event.seq, event.row_hash)
        batch.append(event)
        if len(batch) == BATCH:
            AuditEvent.objects.bulk_update(batch, ["chain", "seq", "prev_hash", "row_hash"])
            batch = []
    AuditEvent.objects.bulk_update(batch, ["chain", "seq", "prev_hash", "row_hash"])
    AuditChainHead.objects.bulk_create(
        [
            AuditChainHead(chain=chain, last_seq=seq, last_hash=row_hash)
            for chain, (seq, row_hash) in heads.items()
        ]
    )
    install(schema_editor, [EVENT_GUARD])


class Migration(migrations.Migration):
    dependencies = [("access", "0005_chains")]
    # Rows only gain values in the new columns: going back leaves nothing to undo.
    operations = [migrations.RunPython(chain_rows, migrations.RunPython.noop)]
