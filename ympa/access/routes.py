"""Every route declares whether it returns patient data.

The Patient Data Act issue asks for one access decision for every read of patient data, whatever the channel.
To keep new routes from slipping past it, each view says what it is:

- `@returns_patient_data`: the route shows, returns or changes an identified patient's data (name,
  identifier, vaccinations, forecasts, adverse events, conditions, messages). Every response that carries
  such data has passed `access.services.patient_access` (or `patient_access_many` for a list), or the service
  that changed the data wrote its audit row; and it is sent `Cache-Control: no-store`.
- `@no_patient_data("why")`: the route returns nothing about an identified patient, and says why.

Django's own and third-party views cannot be decorated; they are declared in `THIRD_PARTY`.
`access/tests/test_route_declarations.py` walks every URL pattern and every API operation (`routes()`): an
undeclared route fails the suite, and each patient-data route is called and must log and answer `no-store`.

Put the decorator on top of a Django view, and directly under `@router.get(...)` on an API operation, so
that django-ninja registers the marked function itself. Neither decorator wraps the function: ninja reads
the signature of what it is given.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.urls import URLPattern, URLResolver, get_resolver
from ninja.operation import PathView

ViewFunction = TypeVar("ViewFunction", bound=Callable[..., Any])

ATTRIBUTE = "ympa_patient_data"


@dataclass(frozen=True)
class Declaration:
    patient_data: bool
    reason: str = ""


def returns_patient_data[View: Callable[..., Any]](view: View) -> View:
    """The route shows, returns or changes an identified patient's data: it logs and is not cached."""
    setattr(view, ATTRIBUTE, Declaration(patient_data=True))
    return view


def no_patient_data(reason: str) -> Callable[[ViewFunction], ViewFunction]:
    """The route returns nothing about an identified patient; `reason` says why, for the reviewer."""
    if not reason.strip():
        raise ValueError("say why the route returns no patient data")

    def decorator(view: ViewFunction) -> ViewFunction:
        setattr(view, ATTRIBUTE, Declaration(patient_data=False, reason=reason))
        return view

    return decorator


# Views we do not own, by their dotted path (module and qualified name).
THIRD_PARTY: dict[str, Declaration] = {
    "django.views.i18n.set_language": Declaration(
        False, "stores the chosen language in the session and redirects"
    ),
    "ninja.openapi.views.openapi_json": Declaration(False, "the API's OpenAPI schema"),
    "ninja.openapi.views.openapi_view": Declaration(False, "the API's documentation page"),
    "ninja.openapi.views.default_home": Declaration(False, "the API's root: a link to the documentation"),
}


def declaration_of(view: Callable[..., Any]) -> Declaration | None:
    declared = getattr(view, ATTRIBUTE, None)
    if isinstance(declared, Declaration):
        return declared
    # ninja mounts its schema and documentation views as partials bound to the API.
    target = view.func if isinstance(view, functools.partial) else view
    return THIRD_PARTY.get(f"{target.__module__}.{target.__qualname__}")


@dataclass(frozen=True)
class Route:
    """One route: a URL pattern, or one operation (HTTP methods) of a django-ninja path."""

    pattern: str
    name: str
    view: Callable[..., Any]
    methods: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """`namespace:name` for a Django view; `METHOD pattern` for an API operation (their names repeat)."""
        return f"{'|'.join(self.methods)} {self.pattern}" if self.methods else self.name

    @property
    def declaration(self) -> Declaration | None:
        return declaration_of(self.view)


def _ninja_path_view(callback: Callable[..., Any]) -> PathView | None:
    """The PathView behind a django-ninja URL pattern: its view is a closure over the PathView."""
    try:
        bound = inspect.getclosurevars(callback).nonlocals.get("self")
    except TypeError:
        return None
    return bound if isinstance(bound, PathView) else None


def routes() -> Iterator[Route]:
    """Every route the URL configuration serves, each once, API operations one by one."""
    seen: set[tuple[str, tuple[str, ...], Callable[..., Any]]] = set()
    for route in _walk(get_resolver().url_patterns, prefix="", namespace=""):
        # ninja adds one URL pattern per operation of a path, each leading to the same operations.
        key = (route.pattern, route.methods, route.view)
        if key not in seen:
            seen.add(key)
            yield route


def _walk(patterns: Sequence[URLPattern | URLResolver], prefix: str, namespace: str) -> Iterator[Route]:
    for entry in patterns:
        pattern = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace
            yield from _walk(entry.url_patterns, pattern, inner or namespace)
            continue
        name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name or ""
        path_view = _ninja_path_view(entry.callback)
        if path_view is None:
            yield Route(pattern=pattern, name=name, view=entry.callback)
        else:
            for operation in path_view.operations:
                yield Route(
                    pattern=pattern, name=name, view=operation.view_func, methods=tuple(operation.methods)
                )
