"""Login throttling: per-email and per-address locks (docs/access.md, "Login throttling").

The pool runs with a 2-second lock and a per-address limit of 4 failures for this module,
and is restored to the defaults afterwards. Per-email failures come from a new client
address each time, so that only the email's counter reaches its limit.
"""
import time

import pytest

from access_helpers import (PASSWORD, WRONG_PASSWORD, assert_retry_after, assert_unauthorized, client, login_response,
                            register, unique_email)
from conftest import assert_envelope

LOCK_SECONDS = 2
EMAIL_MAX_FAILURES = 5
ADDRESS_MAX_FAILURES = 4


@pytest.fixture(scope="module", autouse=True)
def short_locks(pool):
    pool.restart(ASSAY_LOGIN_LOCK_SECONDS=LOCK_SECONDS, ASSAY_LOGIN_ADDRESS_MAX_FAILURES=ADDRESS_MAX_FAILURES)
    try:
        yield
    finally:
        pool.restart()


def fail_logins(email, count, http=None):
    """`count` wrong passwords for `email`, each answered 401 invalid_credentials."""
    for _ in range(count):
        assert_unauthorized(login_response(http or client(), email, WRONG_PASSWORD), "invalid_credentials")


def assert_locked(response):
    assert_envelope(response, 429, "too_many_attempts")
    return assert_retry_after(response, at_most=LOCK_SECONDS + 1)


def test_email_is_locked_after_5_failures_even_for_the_right_password_until_it_expires():
    account = register()
    fail_logins(account.email, EMAIL_MAX_FAILURES)
    assert_locked(login_response(client(), account.email, WRONG_PASSWORD))
    wait = assert_locked(login_response(client(), account.email, PASSWORD))
    # Another account is not affected.
    other = register()
    assert login_response(client(), other.email, PASSWORD).status_code == 200
    time.sleep(wait + 0.3)
    r = login_response(client(), account.email, PASSWORD)
    assert r.status_code == 200, r.text


def test_unknown_email_is_locked_the_same_way():
    email = unique_email("ghost")
    fail_logins(email, EMAIL_MAX_FAILURES)
    locked = login_response(client(), email, WRONG_PASSWORD)
    assert_locked(locked)
    account = register()
    fail_logins(account.email, EMAIL_MAX_FAILURES)
    existing = login_response(client(), account.email, WRONG_PASSWORD)
    assert_locked(existing)
    assert locked.json()["error"]["code"] == existing.json()["error"]["code"]


def test_address_is_locked_after_failures_across_emails():
    account = register()
    http = client()
    for _ in range(ADDRESS_MAX_FAILURES):
        fail_logins(unique_email("spray"), 1, http)
    assert_locked(login_response(http, unique_email("spray"), WRONG_PASSWORD))
    wait = assert_locked(login_response(http, account.email, PASSWORD))
    # The same account from another address is fine: the lock is the address's.
    assert login_response(client(), account.email, PASSWORD).status_code == 200
    time.sleep(wait + 0.3)
    r = login_response(http, account.email, PASSWORD)
    assert r.status_code == 200, r.text
