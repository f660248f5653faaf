"""Login throttling (docs/access.md, "Login throttling"): the (email, address) pair is locked
hard, an address is locked across emails, and an email is slowed down across addresses with
growing delays that never apply to an address its owner has signed in from.

The pool runs with a lock (and longest delay) of LOCK_SECONDS and a per-address limit of 8
failures for this module, and is restored to the defaults afterwards. `client()` gives each
caller a fresh loopback address.
"""
import time

import pytest

from access_helpers import (PASSWORD, WRONG_PASSWORD, assert_retry_after, assert_unauthorized, client, login_response,
                            register, unique_email)
from conftest import assert_envelope

LOCK_SECONDS = 4
MAX_FAILURES = 5
ADDRESS_MAX_FAILURES = 8


@pytest.fixture(scope="module", autouse=True)
def short_locks(pool):
    pool.restart(ASSAY_LOGIN_LOCK_SECONDS=LOCK_SECONDS, ASSAY_LOGIN_ADDRESS_MAX_FAILURES=ADDRESS_MAX_FAILURES)
    try:
        yield
    finally:
        pool.restart()


def fail_logins(email, count, http=None):
    """`count` wrong passwords for `email` (each from a fresh address unless `http` is given),
    each answered 401 invalid_credentials."""
    for _ in range(count):
        assert_unauthorized(login_response(http or client(), email, WRONG_PASSWORD), "invalid_credentials")


def assert_locked(response, at_most=LOCK_SECONDS):
    assert_envelope(response, 429, "too_many_attempts")
    return assert_retry_after(response, at_most=at_most + 1)


def test_a_pair_is_locked_after_5_failures_but_the_owner_still_signs_in_from_their_address():
    account = register()
    attacker = client()
    fail_logins(account.email, MAX_FAILURES - 1, attacker)
    # One short of the lock the pair is still answered; the fifth failure locks it.
    fail_logins(account.email, 1, attacker)
    wait = assert_locked(login_response(attacker, account.email, PASSWORD))
    assert wait >= LOCK_SECONDS - 1
    # The owner, from the address they registered from, is not affected.
    r = login_response(account.http, account.email, PASSWORD)
    assert r.status_code == 200, r.text
    # Nor is another account from the attacker's address.
    other = register()
    assert login_response(attacker, other.email, PASSWORD).status_code == 200
    time.sleep(wait + 0.3)
    r = login_response(attacker, account.email, PASSWORD)
    assert r.status_code == 200, r.text


def test_an_attacker_hammering_from_other_addresses_never_locks_the_owner_out():
    account = register()
    refused = 0
    for round_ in range(4):
        # Each round: a fresh address tries until it is refused (401s, then 429).
        attacker = client()
        for _ in range(MAX_FAILURES + 1):
            r = login_response(attacker, account.email, WRONG_PASSWORD)
            if r.status_code == 429:
                refused += 1
                break
            assert_unauthorized(r, "invalid_credentials")
        # The owner signs in from their usual address every time, with the right password.
        r = login_response(account.http, account.email, PASSWORD)
        assert r.status_code == 200, (round_, r.text)
        # ... but not with a wrong one: the owner's address has its own pair counter.
    assert refused >= 3


def test_an_email_is_slowed_down_across_addresses_with_growing_delays():
    account = register()
    fail_logins(account.email, MAX_FAILURES - 1)
    waits = []
    for _ in range(3):
        fail_logins(account.email, 1)  # from a fresh address: only the email's counter matters
        r = login_response(client(), account.email, PASSWORD)  # right password, unknown address
        waits.append(assert_locked(r))
        time.sleep(waits[-1] + 0.2)
    assert waits == [1, 2, 4], waits  # 1, 2, 4… seconds, at most LOCK_SECONDS
    fail_logins(account.email, 1)
    assert assert_locked(login_response(client(), account.email, PASSWORD)) == LOCK_SECONDS
    # Meanwhile the owner's own address is never slowed down.
    assert login_response(account.http, account.email, PASSWORD).status_code == 200
    time.sleep(LOCK_SECONDS + 0.2)
    # After the delay a new address may sign in with the right password.
    r = login_response(client(), account.email, PASSWORD)
    assert r.status_code == 200, r.text


def test_unknown_email_is_slowed_down_the_same_way():
    ghost = unique_email("ghost")
    account = register()
    answers = []
    for email in (ghost, account.email):
        fail_logins(email, MAX_FAILURES)
        r = login_response(client(), email, WRONG_PASSWORD)
        assert_locked(r)
        answers.append((r.status_code, r.json()["error"]["code"], r.json()["error"]["message"], r.headers["Retry-After"]))
    assert answers[0] == answers[1]


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
