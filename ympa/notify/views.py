from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ympa.access.routes import no_patient_data
from ympa.notify.elks import InvalidDeliveryReport
from ympa.notify.services import callback_secret_matches, sms_delivery_report_apply


@no_patient_data("46elks reports a delivery; the answer is a status code")
@csrf_exempt  # Called by 46elks, not a browser; authenticated by the secret in the URL.
@require_POST
def sms_delivery(request: HttpRequest, secret: str) -> HttpResponse:
    if not callback_secret_matches(secret):
        return HttpResponse(status=404)
    try:
        message = sms_delivery_report_apply(form=request.POST.dict())
    except InvalidDeliveryReport:
        return HttpResponse("invalid delivery report", status=400, content_type="text/plain")
    if message is None:
        return HttpResponse("unknown message", status=404, content_type="text/plain")
    return HttpResponse(status=204)
