from django.apps import AppConfig


class AuthnConfig(AppConfig):
    name = "ympa.authn"
    label = "authn"
    verbose_name = "Authentication"

    def ready(self) -> None:
        from ympa.authn import checks  # noqa: F401 - registers the deployment checks
