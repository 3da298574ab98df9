from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "ympa.patients"
    label = "patients"
    verbose_name = "Patients"
