"""A real browser against the test instance: its pages through nginx, and frames refused.

Headless Chromium (browser_helpers.py) opens Assay's pages over HTTPS through nginx, and
pages of other loopback origins (other_origin, second_origin) that embed them in iframes,
as a customer's site would. nginx forbids framing every page for now (frame-ancestors
'none' and X-Frame-Options: DENY, nginx/security_headers.conf); the tests of frame_state
itself show that it tells a rendered frame from a refused and from a failed one.
"""
import json
import socket
from urllib.parse import urlsplit

import pytest

from browser_helpers import By, frame_state, iframe_page, inside_frame, save_screenshot, wait_for
from conftest import BASE

# The name a person types; the instance's certificate covers it and 127.0.0.1.
ASSAY = f"https://localhost:{urlsplit(BASE).port}"


def body_text(driver):
    """The page's text; for a JSON response, the text of Chromium's viewer (its <pre>)."""
    return driver.execute_script(
        "const e = document.querySelector('body > pre') || document.body; return e ? e.innerText : ''")


def frame(driver):
    return driver.find_element(By.ID, "frame")


def test_browser_reads_health_through_nginx_over_https(browser):
    browser.get(f"{ASSAY}/health")

    health = json.loads(wait_for(browser, body_text, message="the /health body"))
    save_screenshot(browser, "assay-health")
    assert browser.current_url == f"{ASSAY}/health"
    assert health["status"] == "ok", health


def test_browser_reads_the_openapi_document(browser):
    browser.get(f"{BASE}/openapi.json")

    document = json.loads(wait_for(browser, body_text, message="the OpenAPI document"))
    assert document["openapi"].startswith("3."), document["openapi"]
    assert "/health" in document["paths"]


@pytest.mark.parametrize("path", ["/health", "/openapi.json"])
def test_assay_page_framed_by_another_origin_is_refused(browser, other_origin, path):
    page = other_origin.page("/customer.html", iframe_page(ASSAY + path, title="A customer's page"))

    browser.get(page)
    state = frame_state(browser, frame(browser))
    save_screenshot(browser, f"assay{path}-framed-by-another-origin")

    assert state.state == "refused", state
    assert "frame-ancestors 'none'" in state.reason, state.reason
    assert state.url == "chrome-error://chromewebdata/"
    # The embedding page itself is untouched.
    assert browser.title == "A customer's page"


def test_frame_of_its_own_origin_is_rendered(browser, other_origin):
    other_origin.page("/inner.html", "<!doctype html><title>Inner page</title><p id=greeting>Hello from inside")
    page = other_origin.page("/outer.html", iframe_page("/inner.html"))

    browser.get(page)
    state = frame_state(browser, frame(browser))
    save_screenshot(browser, "frame-of-its-own-origin")

    assert state.state == "rendered", state
    assert (state.url, state.title) == (other_origin.url("/inner.html"), "Inner page")
    assert "Hello from inside" in state.text
    with inside_frame(browser, frame(browser)):
        assert browser.find_element(By.ID, "greeting").text == "Hello from inside"


def test_frame_of_another_origin_without_a_policy_is_rendered(browser, other_origin, second_origin):
    widget = second_origin.page("/widget.html", "<!doctype html><title>Widget</title><p>42 orders")
    page = other_origin.page("/customer.html", iframe_page(widget))

    browser.get(page)
    state = frame_state(browser, frame(browser))

    assert state.state == "rendered", state
    assert (state.url, state.title, state.text) == (widget, "Widget", "42 orders")


def test_frame_ancestors_allows_the_listed_origin_and_refuses_another(browser, other_origin, second_origin):
    # The widget may be framed by other_origin only: not even by its own origin.
    policy = {"Content-Security-Policy": f"frame-ancestors {other_origin.origin}"}
    widget = second_origin.page("/widget.html", "<!doctype html><title>Widget</title><p>42 orders",
                                headers=policy)
    allowed = other_origin.page("/allowed.html", iframe_page(widget, title="Allowed"))
    forbidden = second_origin.page("/forbidden.html", iframe_page(widget, title="Forbidden"))

    browser.get(allowed)
    allowed_state = frame_state(browser, frame(browser))
    browser.get(forbidden)
    forbidden_state = frame_state(browser, frame(browser))
    save_screenshot(browser, "frame-ancestors-refuses-an-unlisted-origin")

    assert allowed_state.state == "rendered", allowed_state
    assert forbidden_state.state == "refused", forbidden_state
    assert f"frame-ancestors {other_origin.origin}" in forbidden_state.reason


def test_x_frame_options_alone_refuses_the_frame(browser, other_origin, second_origin):
    widget = second_origin.page("/widget.html", "<!doctype html><title>Widget</title>",
                                headers={"X-Frame-Options": "DENY"})
    page = other_origin.page("/customer.html", iframe_page(widget))

    browser.get(page)
    state = frame_state(browser, frame(browser))

    assert state.state == "refused", state
    assert "X-Frame-Options" in state.reason


def test_frame_whose_server_is_down_failed_and_was_not_refused(browser, other_origin):
    with socket.socket() as probe:  # a free port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/widget.html"
    page = other_origin.page("/customer.html", iframe_page(closed))

    browser.get(page)
    state = frame_state(browser, frame(browser))

    assert state.state == "failed", state
    assert state.reason == ""
