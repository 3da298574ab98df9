"""The JSON API at /api/v1 (OpenAPI at /api/v1/openapi.json). Routers live in each app's api.py."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI

from ympa.authn.api_auth import BearerToken
from ympa.core.errors import ConflictError, NotPermitted
from ympa.journal.api import router as journal_router
from ympa.patients.api import router as patients_router

api = NinjaAPI(
    title="Ympa API",
    version="1",
    description="Patients and vaccination records. Authenticate with `Authorization: Bearer <token>` "
    "from `ympa api-token USERNAME`. Every call acts as the token's assignment and is logged.",
    auth=BearerToken(),
    urls_namespace="api",
)
api.add_router("/", patients_router)
api.add_router("/", journal_router)


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return _no_store(api.create_response(request, {"detail": "invalid", "errors": fields}, status=422))


@api.exception_handler(ConflictError)
def conflict(request: HttpRequest, exc: ConflictError) -> HttpResponse:
    return _no_store(api.create_response(request, {"detail": exc.message, "code": exc.code}, status=409))


@api.exception_handler(NotPermitted)
def not_permitted(request: HttpRequest, exc: NotPermitted) -> HttpResponse:
    return _no_store(api.create_response(request, {"detail": exc.message, "code": exc.code}, status=403))
