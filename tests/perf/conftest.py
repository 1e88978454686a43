"""The API fixtures of tests/api, for the tests of what the speed work changed."""

from tests.api.conftest import (  # noqa: F401
    anyio_backend,
    auth,
    celery_app,
    client,
    make_client,
    make_run,
    make_settings,
    owner,
)
