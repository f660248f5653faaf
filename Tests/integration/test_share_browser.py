"""Share and embed pages in a real browser (headless Chromium): a public page, a password
page (wrong, then right), a filter changed through the page's form, and a widget embedded
by another origin — rendered where allowed, refused where not. Screenshots are saved as
test artifacts (var/test/artifacts/)."""
from urllib.parse import urlsplit

import pytest

from browser_helpers import By, console_messages, frame_state, iframe_page, inside_frame, save_screenshot, wait_for
from conftest import BASE
from test_dashboards import generate
from test_query import sales  # noqa: F401 (the fixture)
from test_sharing import share

ASSAY = f"https://localhost:{urlsplit(BASE).port}"


@pytest.fixture(scope="module")
def board(sales):  # noqa: F811
    account, table = sales
    dashboard = generate(account, table_ids=[table], options={"title": "Browser <b>board</b>"})
    r = account.put(f"/api/dashboards/{dashboard['id']}", {"filters": [{"column": "customer", "op": "=", "value": "Acme"}]})
    assert r.status_code == 200, r.text
    return account, r.json()


def csp_problems(driver):
    return [m["message"] for m in console_messages(driver) if "Content Security Policy" in m["message"]]


def test_a_public_share_page_renders_with_its_charts(browser, board):
    account, dashboard = board
    link = share(account, dashboard["id"], permissions=["view", "interact", "export"])
    browser.get(f"{ASSAY}/share/{link['share_id']}")
    heading = wait_for(browser, lambda d: d.find_element(By.TAG_NAME, "h1"), message="the title")
    assert heading.text == "Browser <b>board</b>", "the title shows as text"
    sections = browser.find_elements(By.CSS_SELECTOR, "section.widget")
    assert len(sections) == len(dashboard["widgets"])
    assert len(browser.find_elements(By.CSS_SELECTOR, "section.widget svg")) == len(dashboard["widgets"])
    assert browser.find_elements(By.CSS_SELECTOR, "a[href*='.csv']")
    save_screenshot(browser, "share-public-page")
    # The stylesheet applied (a grid), and nothing was blocked by the page's own policy.
    assert browser.execute_script("return getComputedStyle(document.querySelector('.grid')).display") == "grid"
    assert csp_problems(browser) == []


def test_changing_a_filter_in_the_page_redraws_it(browser, board):
    account, dashboard = board
    link = share(account, dashboard["id"], permissions=["view", "interact"])
    browser.get(f"{ASSAY}/share/{link['share_id']}")
    field = wait_for(browser, lambda d: d.find_element(By.NAME, "f0"), message="the filter field")
    kpi = f"#widget-{dashboard['widgets'][0]['id']} svg"
    assert "2" in browser.find_element(By.CSS_SELECTOR, kpi).text
    if field.tag_name == "select":
        from selenium.webdriver.support.ui import Select
        Select(field).select_by_visible_text("Gamma Ltd")  # the page's script submits on change
    else:
        field.clear()
        field.send_keys("Gamma Ltd")
        browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
    wait_for(browser, lambda d: "f0=Gamma" in d.current_url, message="the GET with the new value")
    assert browser.find_element(By.CSS_SELECTOR, kpi).text.strip().startswith("1")
    save_screenshot(browser, "share-filter-changed")
    assert csp_problems(browser) == []


def test_a_password_page_refuses_the_wrong_password_and_opens_with_the_right_one(browser, board):
    account, dashboard = board
    link = share(account, dashboard["id"], share_type="secure_link", password="secure123", expires_in_hours=1)
    browser.get(f"{ASSAY}/share/{link['share_id']}")
    wait_for(browser, lambda d: d.find_element(By.NAME, "password")).send_keys("wrong-one")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    error = wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".gate-error"), message="the error")
    assert "Wrong password" in error.text and not browser.find_elements(By.CSS_SELECTOR, "section.widget")
    save_screenshot(browser, "share-password-wrong")
    browser.find_element(By.NAME, "password").send_keys("secure123")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "section.widget svg"), message="the dashboard")
    assert browser.current_url == f"{ASSAY}/share/{link['share_id']}"
    cookie = browser.get_cookie("assay_pass")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax" and cookie["path"] == f"/share/{link['share_id']}"
    assert browser.execute_script("return document.cookie") == "", "scripts cannot read the pass"
    save_screenshot(browser, "share-password-opened")


def test_an_embed_renders_for_an_allowed_origin_and_is_refused_elsewhere(browser, board, other_origin, second_origin):
    account, dashboard = board
    chart = next(w for w in dashboard["widgets"] if w["type"] in ("bar", "line"))
    r = account.post("/api/embed/widget", {"dashboard_id": dashboard["id"], "chart_id": chart["id"], "theme": "dark",
                                           "width": 640, "height": 360, "allowed_origins": [other_origin.origin]})
    assert r.status_code == 201, r.text
    widget = r.json()
    src = f"{ASSAY}/embed/{widget['widget_id']}"
    # Allowed: the customer's page shows the chart.
    browser.get(other_origin.page("/customer.html", iframe_page(src, title="Sales chart", width=660, height=380)))
    frame = browser.find_element(By.ID, "frame")
    state = frame_state(browser, frame)
    assert state.state == "rendered", state
    with inside_frame(browser, frame):
        wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "svg"), message="the chart inside the frame")
        assert browser.find_element(By.TAG_NAME, "body").get_attribute("class").count("theme-dark") == 1
        assert chart["title"] in browser.find_element(By.TAG_NAME, "body").text
    save_screenshot(browser, "embed-allowed-origin")
    # Forbidden: another origin gets nothing.
    browser.get(second_origin.page("/elsewhere.html", iframe_page(src, title="Sales chart")))
    state = frame_state(browser, browser.find_element(By.ID, "frame"))
    assert state.state == "refused", state
    assert "frame-ancestors" in state.reason
    save_screenshot(browser, "embed-forbidden-origin")
    # The embed code's own iframe works as pasted.
    browser.get(other_origin.page("/pasted.html", f"<!doctype html><title>x</title>{widget['embed_code']['iframe']}"))
    pasted = wait_for(browser, lambda d: d.find_element(By.TAG_NAME, "iframe"))
    assert frame_state(browser, pasted).state == "rendered"
