from django.apps import AppConfig


class AuthnConfig(AppConfig):
    name = "ympa.authn"
    label = "authn"
    verbose_name = "Authentication"
