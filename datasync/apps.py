from django.apps import AppConfig


class DatasyncConfig(AppConfig):
    name = "datasync"
    verbose_name = "OCLC Data Sync"
