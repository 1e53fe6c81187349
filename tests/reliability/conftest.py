"""The soak's fixtures: the publishing side's (tests/profiles) and the OCLC side's
(tests/datasync), shared rather than written again."""

from tests.datasync.conftest import (  # noqa: F401
    account,
    collection,
    filex_root,
    inbox,
    institution,
)
from tests.profiles.conftest import make_profile, sftp_connection  # noqa: F401
