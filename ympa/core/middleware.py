from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation

from ympa.core.errors import ConflictError, NotPermitted


class LanguageMiddleware:
    """Swedish first: the language is the one the user chose (the language cookie), otherwise Swedish.

    Unlike Django's LocaleMiddleware, the browser's Accept-Language is not consulted: a clinic's shared
    computer with an English browser must still show the Swedish product unless someone picks English.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.languages = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in self.languages else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        translation.deactivate()
        return response


class ServiceErrorMiddleware:
    """A service's refusal that a view did not handle is a 403 (or 409) page with the service's message,
    not a server error. Refusals change nothing, so showing the message is all there is to do."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, NotPermitted):
            response = render(request, "403.html", {"message": exception.message}, status=403)
        elif isinstance(exception, ConflictError):
            response = render(request, "409.html", {"message": exception.message}, status=409)
        else:
            return None
        response["Cache-Control"] = "no-store"
        return response
