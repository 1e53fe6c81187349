"""Secrets encrypted at rest.

`EncryptedTextField` stores a Fernet token in the database and gives Python code the plain text.
Keys come from `settings.FIELD_ENCRYPTION_KEYS` (read at call time, never at import): the first
key encrypts, every key decrypts, so a new key can be put in front and `manage.py rotate_secrets`
re-encrypts the stored tokens with it. An empty value is stored empty, so "is a password stored?"
needs no key.

Serialised (`dumpdata`, fixtures) the field is its token with a "fernet:" prefix, never the
plain text; `loaddata` decrypts it back with the configured keys and refuses, with a clear
message, a token made with other keys.

The field refuses every lookup and transform: a query such as `filter(password=...)` would compare
against a token (always different, Fernet tokens are salted) and an admin lookup or search on a
secret is exactly what must never exist.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

# Marks a serialised token (dumpdata): what follows is encrypted, not a password.
SERIALISED_PREFIX = "fernet:"


class SecretUnreadable(Exception):
    """A stored token cannot be decrypted with any of the configured keys."""


@lru_cache(maxsize=8)
def _multi_fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def cipher() -> MultiFernet:
    """The MultiFernet for the keys configured now (tests may change the setting)."""
    return _multi_fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plain: str) -> str:
    return cipher().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS: was a key removed "
            "before `manage.py rotate_secrets` re-encrypted the secrets with the new one?"
        ) from None


def rotate(token: str) -> str:
    """The same secret encrypted with the first key (raises SecretUnreadable)."""
    try:
        return cipher().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("A stored secret cannot be decrypted with any key") from None


class EncryptedTextField(models.TextField):
    description = "Text encrypted at rest with FIELD_ENCRYPTION_KEYS"

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value)

    def value_to_string(self, obj):
        value = self.value_from_object(obj)
        if not value:
            return value
        return SERIALISED_PREFIX + encrypt(value)

    def to_python(self, value):
        value = super().to_python(value)
        if isinstance(value, str) and value.startswith(SERIALISED_PREFIX):
            try:
                return decrypt(value.removeprefix(SERIALISED_PREFIX))
            except SecretUnreadable:
                raise ValidationError(
                    "This secret was exported encrypted with other keys: set "
                    "FIELD_ENCRYPTION_KEYS to include the key of the installation it came "
                    "from, then load it again.",
                    code="unreadable_secret",
                ) from None
        return value

    def get_lookup(self, lookup_name):
        return None

    def get_transform(self, name):
        return None
