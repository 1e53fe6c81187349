from django.apps import AppConfig


class FtpConfig(AppConfig):
    name = "ftp"
    verbose_name = "S/FTP connections"
