"""A real browser for the integration tests: headless Chromium, other origins, screenshots.

The browser is Debian's chromium, driven through Debian's chromedriver by Selenium; the
scripts install all three (see ensure_browser and ensure_python_test_env in
scripts/lib/common.sh). Selenium is handed that chromedriver, so Selenium Manager never runs
and nothing is downloaded. A missing browser, driver or selenium fails the test that asks for
the browser: the scripts install them, so their absence is a broken machine, not a reason to
skip.

Fixtures (conftest.py exposes them):
  browser         a Chromium WebDriver for the test module; every test starts on about:blank
                  in a new tab with no cookies, no cache and an empty console log
  other_origin    an OriginServer on http://127.0.0.1:PORT: pages a test registers there
                  embed Assay's pages in iframes, as a customer's site would
  second_origin   another OriginServer on another port (another origin), e.g. one allowed
                  and one forbidden embedder
  artifact_dir    where screenshots go (VAR/artifacts; scripts/test lists them at the end)

A test that fails while holding the browser leaves a screenshot FAILED-<test>.png and the
console log in its report.
"""
import os
import re
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import BASE, ENV

# Never let Selenium Manager fetch a driver or a browser (it would only run if no driver were
# given; this makes sure it cannot reach the network if it ever does).
os.environ["SE_OFFLINE"] = "true"
os.environ["SE_AVOID_STATS"] = "true"

try:
    from selenium import webdriver
    from selenium.common.exceptions import (NoSuchElementException, NoSuchFrameException,
                                            StaleElementReferenceException, WebDriverException)
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By  # noqa: F401 (for the tests: from browser_helpers import By)
    SELENIUM_MISSING = None
    # What a page may throw while it is still being built or replaced.
    TRANSIENT_ERRORS = (NoSuchElementException, NoSuchFrameException, StaleElementReferenceException)
except ImportError as error:  # reported by the browser fixture, so other tests still run
    SELENIUM_MISSING = error
    WebDriverException = TRANSIENT_ERRORS = ()
    By = None

# Where Chromium puts a frame (or page) that did not get a document of its own: a refused
# frame, a refused connection, a TLS error.
CHROME_ERROR_URL = "chrome-error://chromewebdata/"

WINDOW_SIZE = "1280,900"


def artifacts_path():
    """VAR/artifacts (made on first use): what tests leave for people to look at."""
    path = Path(ENV.get("ASSAY_ARTIFACTS_DIR") or Path(ENV["ASSAY_VAR_DIR"]) / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------------------------------------
# The browser


def launch_browser():
    """Starts headless Chromium with a private profile; the caller quits it (quit_browser).

    Fails (never skips) when chromium, chromedriver or selenium is missing.
    """
    if SELENIUM_MISSING is not None:
        pytest.fail(f"selenium cannot be imported ({SELENIUM_MISSING}): scripts/test installs it "
                    "(ensure_python_test_env in scripts/lib/common.sh)", pytrace=False)
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    chromedriver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    for path, package in ((chromium, "chromium"), (chromedriver, "chromium-driver")):
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} not found: the browser tests need Debian's {package} package, which "
                        "scripts/test installs (ensure_browser in scripts/lib/common.sh)", pytrace=False)

    profile = tempfile.mkdtemp(prefix="assay-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    arguments = [
        "--headless=new",
        f"--window-size={WINDOW_SIZE}",
        f"--user-data-dir={profile}",
        # The test instance's certificate is self-signed.
        "--ignore-certificate-errors",
        # /dev/shm may be small (containers): Chromium crashes when it runs out there.
        "--disable-dev-shm-usage",
        # Nothing but the pages a test opens: no updates, sync, first-run pages or pings.
        "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
        # The same words and pixels on every machine.
        "--lang=en-US", "--force-device-scale-factor=1", "--hide-scrollbars",
    ]
    if os.geteuid() == 0:
        arguments.append("--no-sandbox")  # Chromium's sandbox refuses to run as root
    for argument in arguments:
        options.add_argument(argument)
    options.accept_insecure_certs = True
    # The console of every page (console_messages reads it; frame_state's refusals come from it).
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    except WebDriverException as error:
        shutil.rmtree(profile, ignore_errors=True)
        pytest.fail(f"Chromium did not start ({chromium} through {chromedriver}): {error.msg}", pytrace=False)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    driver.assay_profile = profile
    driver.assay_console = []
    return driver


def quit_browser(driver):
    driver.quit()
    shutil.rmtree(driver.assay_profile, ignore_errors=True)


def reset_browser(driver):
    """A clean slate: one new tab on about:blank, no cookies, no cache, an empty console log."""
    old = driver.window_handles
    driver.switch_to.new_window("tab")
    for handle in old:
        driver.switch_to.window(handle)
        driver.close()
    driver.switch_to.window(driver.window_handles[0])
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    for origin in _assay_origins():
        driver.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"})
    console_messages(driver)
    driver.assay_console.clear()


def _assay_origins():
    port = urlsplit(BASE).port
    return [f"https://127.0.0.1:{port}", f"https://localhost:{port}"]


def console_messages(driver):
    """Every console entry of the browser since the test began (dicts: level, message, source,
    timestamp in ms). Chromedriver hands each entry out once; the driver keeps them."""
    driver.assay_console.extend(driver.get_log("browser"))
    return list(driver.assay_console)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for the module (reset before each test by _browser_per_test)."""
    driver = launch_browser()
    yield driver
    quit_browser(driver)


@pytest.fixture(autouse=True)
def _browser_per_test(request):
    """Before each test that asks for the browser: reset_browser."""
    if "browser" in request.fixturenames:
        reset_browser(request.getfixturevalue("browser"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that held the browser: a screenshot and the console log in its report."""
    outcome = yield
    report = outcome.get_result()
    driver = item.funcargs.get("browser") if hasattr(item, "funcargs") else None
    if driver is None or not report.failed or report.when != "call":
        return
    try:
        path = save_screenshot(driver, f"FAILED-{item.name}")
        report.sections.append(("browser", f"screenshot: {path}\nURL: {driver.current_url}"))
        lines = [f"{m['level']} {m['source']}: {m['message']}" for m in console_messages(driver)]
        report.sections.append(("browser console", "\n".join(lines) or "(empty)"))
    except WebDriverException as error:
        report.sections.append(("browser", f"no screenshot: {error.msg}"))


# ---------------------------------------------------------------------------------------------
# Screenshots and waiting


@pytest.fixture(scope="session")
def artifact_dir():
    return artifacts_path()


def save_screenshot(driver, name):
    """Saves the window as VAR/artifacts/NAME.png, prints and returns the path."""
    path = artifacts_path() / (re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") + ".png")
    if not driver.save_screenshot(str(path)):
        raise AssertionError(f"Chromium did not take the screenshot {path}")
    print(f"screenshot: {path}")
    return path


def wait_for(driver, condition, timeout=10.0, message=None):
    """Polls condition(driver) until it returns something truthy, and returns that.

    An element or frame that is missing or stale meanwhile counts as not yet; after TIMEOUT
    seconds an AssertionError names MESSAGE (or the condition) and the page.
    """
    __tracebackhide__ = True  # pytest: the failure is the caller's line
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = condition(driver)
            if value:
                return value
        except TRANSIENT_ERRORS as error:
            last_error = error
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    try:
        where = driver.current_url
    except WebDriverException:
        where = "?"
    detail = ""
    if last_error:
        first_line = (last_error.msg or "").partition("\n")[0]
        detail = f"; last error: {type(last_error).__name__}: {first_line}"
    raise AssertionError(f"{message or repr(condition)}: not so after {timeout} s (page {where}){detail}")


@contextmanager
def inside_frame(driver, iframe):
    """Runs the block in IFRAME's document, then returns to the document that holds it."""
    driver.switch_to.frame(iframe)
    try:
        yield
    finally:
        driver.switch_to.parent_frame()


# ---------------------------------------------------------------------------------------------
# Frames


@dataclass(frozen=True)
class FrameState:
    """What became of an iframe: state is 'rendered', 'refused' or 'failed'.

    rendered: the frame holds the document at url (title, text: its body's text).
    refused:  the browser would not show src in this frame (its CSP frame-ancestors or
              X-Frame-Options); reason is the console message that says so.
    failed:   no document for another reason (connection refused, TLS, DNS); text is what
              Chromium's error page says.
    """
    state: str
    src: str
    url: str
    title: str
    text: str
    reason: str = ""


# The document in the current frame, or None while it is still the initial about:blank or
# loading.
_DOCUMENT = """return document.readyState === 'complete' && document.URL !== 'about:blank'
    ? [document.URL, document.title, document.body ? document.body.innerText : ''] : null"""


def frame_state(driver, iframe, timeout=10.0):
    """Waits until IFRAME has a document and says whose: FrameState('rendered'|'refused'|'failed').

    The signals, both needed because neither is enough alone:
    1. The frame's own document, entered through WebDriver (which, unlike the page's scripts,
       may enter a cross-origin frame): a frame the browser refused holds Chromium's error
       page, document.URL == 'chrome-error://chromewebdata/'. So does a frame whose
       connection failed, and the two error pages read alike ("127.0.0.1 refused to connect").
    2. The embedding page's console, from Chromium's 'security' source: it names the refused
       origin and the rule, e.g. "Framing 'https://localhost:18443/' violates the following
       Content Security Policy directive: "frame-ancestors 'none'". The request has been
       blocked." (older Chromium: "Refused to frame '…' because an ancestor violates …"), or
       "Refused to display '…' in a frame because it set 'X-Frame-Options' to 'deny'."
       Only messages logged since the embedding page loaded count.
    The error page and a message about the frame's origin: 'refused'; the error page alone:
    'failed'. Reading the frame from the page (contentDocument, which is null for any
    cross-origin frame) cannot tell a refused frame from a rendered one.
    """
    src = iframe.get_property("src")
    # The embedding document's start, in the console's clock (ms since the epoch).
    since = driver.execute_script("return Math.floor(performance.timeOrigin)")

    def document(_):
        with inside_frame(driver, iframe):
            return driver.execute_script(_DOCUMENT)

    url, title, text = wait_for(driver, document, timeout, f"the frame showing {src} to finish loading")
    if url != CHROME_ERROR_URL:
        return FrameState("rendered", src, url, title, text)
    # The refusal is logged as the error page commits; give a late message a moment.
    origin = _origin(src)
    deadline = time.monotonic() + 1.0
    while True:
        reason = next((m["message"] for m in console_messages(driver)
                       if m["timestamp"] >= since and _refuses_framing(m["message"], origin)), "")
        if reason or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    return FrameState("refused" if reason else "failed", src, url, title, text, reason)


def _origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _refuses_framing(message, origin):
    if "frame-ancestors" not in message and "X-Frame-Options" not in message:
        return False
    # The first quoted URL is the framed one.
    quoted = re.search(r"'([a-z][a-z0-9+.-]*://[^']+)'", message)
    return bool(quoted) and _origin(quoted.group(1)) == origin


# ---------------------------------------------------------------------------------------------
# Other origins


class OriginServer:
    """A small HTTP server on 127.0.0.1 and a free port: an origin other than Assay's.

    A test registers pages (page) and gets their URLs; anything else is a 404. Every request
    is recorded in requests as (method, path, headers).
    """

    def __init__(self):
        self._pages = {}
        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(("GET", self.path, dict(self.headers)))
                status, headers, body = server._pages.get(
                    self.path.split("?", 1)[0], (404, {"Content-Type": "text/plain"}, b"not found"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        # A short poll interval: close (shutdown) waits for one.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"origin {self.origin}", daemon=True)
        self._thread.start()

    def url(self, path="/"):
        return self.origin + path

    def page(self, path, body, *, headers=None, status=200, content_type="text/html; charset=utf-8"):
        """Serves BODY (str or bytes) at PATH from now on; returns its URL."""
        data = body.encode() if isinstance(body, str) else body
        self._pages[path] = (status, {"Content-Type": content_type, **(headers or {})}, data)
        return self.url(path)

    def close(self):
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def iframe_page(src, *, title="Embedding page", frame_id="frame", width=800, height=500):
    """A page that embeds SRC in one iframe (id FRAME_ID), as a customer's site would."""
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head>"
            f"<body style='font-family:sans-serif'><h1>{title}</h1>"
            f"<iframe id='{frame_id}' src='{src}' width='{width}' height='{height}'></iframe>"
            "</body></html>")


@pytest.fixture
def other_origin():
    server = OriginServer()
    yield server
    server.close()


@pytest.fixture
def second_origin():
    server = OriginServer()
    yield server
    server.close()
