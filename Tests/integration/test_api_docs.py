"""The API described for its users: Swagger UI at /docs and ReDoc at /redoc (served offline
by nginx, opened in headless Chromium, "Try it out" with an API key), the OpenAPI document
checked by a real validator (openapi-spec-validator) with an example for every request body
that its own schema accepts and the error envelope on every operation, and the Postman
collection made from it (read by postmanparser, every operation in it)."""
import json
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest

from access_helpers import call, client, register
from browser_helpers import By, console_messages, save_screenshot, wait_for
from conftest import BASE, ENV

ASSAY = f"https://localhost:{urlsplit(BASE).port}"
METHODS = ("get", "post", "put", "patch", "delete")
TOOLS_PYTHON = str(Path(ENV["ASSAY_SCHEMATHESIS"]).with_name("python"))


@pytest.fixture(scope="module")
def document():
    r = call(client(), "GET", "/openapi.json")
    assert r.status_code == 200
    return r.json()


def operations(document):
    return [(method, path, op) for path, item in document["paths"].items() for method, op in item.items() if method in METHODS]


# --- /docs and /redoc through nginx ----------------------------------------------------------


@pytest.mark.parametrize("page, script", [("/docs", "/docs/assets/swagger-ui-dist/swagger-ui-bundle.js"),
                                          ("/redoc", "/docs/assets/redoc/bundles/redoc.standalone.js")])
def test_the_docs_pages_and_their_builds_come_from_this_server(page, script):
    http = client()
    r = call(http, "GET", page)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp
    assert "script-src 'self' 'unsafe-inline'" not in csp
    assert "<script>" not in r.text and "http://" not in r.text and "https://" not in r.text, "no inline script, no CDN"
    assert f'src="{script}"' in r.text
    asset = call(http, "GET", script)
    assert asset.status_code == 200 and len(asset.content) > 500_000
    assert "javascript" in asset.headers["Content-Type"]
    assert asset.headers["Cache-Control"].startswith("max-age=604800") or "public" in asset.headers["Cache-Control"]
    assert "Expires" in asset.headers
    missing = call(http, "GET", "/docs/assets/nothing-here.js")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert call(http, "GET", "/docs/", allow_redirects=False).headers.get("Location", "").endswith("/docs")


def csp_problems(driver):
    return [m["message"] for m in console_messages(driver) if "Content Security Policy" in m["message"]]


def test_swagger_ui_lists_every_operation_and_tries_one_with_an_api_key(browser, document):
    account = register()
    r = call(client(), "POST", "/api/api-keys", token=account.access, json={"name": "docs", "scopes": ["documents:read"]})
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    browser.get(f"{ASSAY}/docs")
    count = len(operations(document))
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) == count, timeout=20,
             message=f"{count} operations listed")
    # Authorize with the API key (apiKeyHeader), then try GET /api/auth/me.
    browser.find_element(By.CSS_SELECTOR, "button.authorize").click()
    wait_for(browser, lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, ".auth-container input")
                                         if e.get_attribute("type") == "text" and e.is_displayed()], message="the API key field")
    containers = browser.find_elements(By.CSS_SELECTOR, ".auth-container")
    box = next(c for c in containers if "X-API-Key" in c.text)
    box.find_element(By.CSS_SELECTOR, "input").send_keys(key)
    box.find_element(By.CSS_SELECTOR, "button.authorize").click()
    browser.find_element(By.CSS_SELECTOR, "button.btn-done").click()
    block = wait_for(browser, lambda d: d.find_element(By.ID, "operations-auth-getCurrentUser"), message="GET /api/auth/me")
    block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait_for(browser, lambda d: block.find_element(By.CSS_SELECTOR, "button.try-out__btn")).click()
    wait_for(browser, lambda d: block.find_element(By.CSS_SELECTOR, "button.execute")).click()
    status = wait_for(browser, lambda d: block.find_element(By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_status").text.strip(),
                      timeout=15, message="a live response")
    body = block.find_element(By.CSS_SELECTOR, ".live-responses-table tr.response .microlight").text
    browser.execute_script("arguments[0].scrollIntoView()", block.find_element(By.CSS_SELECTOR, ".live-responses-table"))
    save_screenshot(browser, "docs-swagger-try-it-out")
    assert status.startswith("200"), status
    assert account.email in body
    assert csp_problems(browser) == []


def test_redoc_renders_every_operation(browser, document):
    browser.get(f"{ASSAY}/redoc")
    count = len(operations(document))
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-section-id^='operation/']")) == count, timeout=30,
             message=f"{count} operations rendered")
    save_screenshot(browser, "docs-redoc")
    assert "Assay" in browser.title
    # ReDoc's sidebar always asks for its maker's logo from a CDN: the policy blocks that (no
    # request leaves), and nothing else.
    assert [m for m in csp_problems(browser) if "https://cdn.redoc.ly/redoc/logo-mini.svg" not in m] == []


# --- the OpenAPI document ----------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1_by_a_real_validator(tmp_path, document):
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(document))
    out = subprocess.run([TOOLS_PYTHON, "-m", "openapi_spec_validator", "--schema", "3.1.0", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "OK" in out.stdout, out.stdout + out.stderr
    # The validator does fail on a broken document (so the check above means something).
    broken = dict(document, paths={"/x": {"get": {"responses": {"200": {"$ref": "#/components/responses/Nowhere"}}}}})
    path.write_text(json.dumps(broken))
    out = subprocess.run([TOOLS_PYTHON, "-m", "openapi_spec_validator", "--schema", "3.1.0", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0


def validate(document, schema, value):
    jsonschema.Draft202012Validator(dict(schema, components=document["components"])).validate(value)


def test_every_request_body_has_an_example_its_schema_accepts(document):
    bodies = 0
    for method, path, op in operations(document):
        for content_type, content in op.get("requestBody", {}).get("content", {}).items():
            bodies += 1
            assert "example" in content or "examples" in content, f"{method} {path} {content_type}: no example"
            if content_type == "application/json":
                examples = [content["example"]] if "example" in content else [e["value"] for e in content["examples"].values()]
                for example in examples:
                    validate(document, content["schema"], example)
    assert bodies >= 30


def test_every_operation_answers_errors_with_the_envelope(document):
    for method, path, op in operations(document):
        errors = [code for code in op["responses"] if code[0] in "45"]
        assert errors, f"{method} {path}: no error response"
        for code in errors:
            if (path, code) == ("/health", "503"):
                continue  # the health report itself, naming each problem (for monitors)
            response = op["responses"][code]
            if "$ref" in response:
                response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
            content = response["content"]["application/json"]
            assert content["schema"] == {"$ref": "#/components/schemas/Error"}, f"{method} {path} {code}"
    for name, response in document["components"]["responses"].items():
        content = response["content"]["application/json"]
        validate(document, content["schema"], content["example"])


def test_the_seed_example_bodies_are_the_documented_ones(document):
    """The examples are what a client sends: a registration example registers."""
    example = document["paths"]["/api/auth/register"]["post"]["requestBody"]["content"]["application/json"]["example"]
    body = dict(example, email=f"docs-{uuid.uuid4().hex[:10]}@example.com", username=f"docs_{uuid.uuid4().hex[:10]}")
    r = call(client(), "POST", "/api/auth/register", json=body)
    assert r.status_code == 201, r.text


# --- the Postman collection --------------------------------------------------------------------


@pytest.fixture(scope="module")
def collection():
    r = call(client(), "GET", "/api/postman.json")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert "assay.postman_collection.json" in r.headers["Content-Disposition"]
    return r.json()


def requests_of(collection):
    for folder in collection["item"]:
        for item in folder["item"]:
            yield folder["name"], item


def test_the_postman_collection_reads_as_format_2_1(tmp_path, collection):
    path = tmp_path / "assay.postman_collection.json"
    path.write_text(json.dumps(collection))
    script = ("import sys; from postmanparser import Collection; c = Collection(); c.parse_from_file(sys.argv[1]); "
              "print(len(c.get_requests()))")
    out = subprocess.run([TOOLS_PYTHON, "-c", script, str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) == sum(1 for _ in requests_of(collection))
    # The reader refuses what the format does not allow (the check above can fail).
    path.write_text(json.dumps({"info": {"name": "x"}, "item": [{"name": "no request"}]}))
    out = subprocess.run([TOOLS_PYTHON, "-c", script, str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert collection["info"]["schema"] == "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"


def test_every_operation_is_in_the_collection_with_its_folder_auth_and_example(collection, document):
    expected = {(method.upper(), path) for method, path, _ in operations(document)}
    found = {}
    for folder, item in requests_of(collection):
        request = item["request"]
        path = "/" + "/".join("{" + s[1:] + "}" if s.startswith(":") else s for s in request["url"]["path"])
        assert request["url"]["raw"].startswith("{{baseUrl}}/")
        found[(request["method"], path)] = (folder, request)
    assert set(found) == expected
    assert [f["name"] for f in collection["item"]] == [t["name"] for t in document["tags"]
                                                        if any(f == t["name"] for f, _ in requests_of(collection))]
    variables = {v["key"]: v["value"] for v in collection["variable"]}
    assert variables["baseUrl"] == ENV["ASSAY_PUBLIC_URL"].rstrip("/") and variables["token"] == ""
    assert collection["auth"] == {"type": "bearer", "bearer": [{"key": "token", "value": "{{token}}", "type": "string"}]}
    for method, path, op in operations(document):
        folder, request = found[(method.upper(), path)]
        assert folder == op["tags"][0]
        if op.get("security") is None or op.get("security") == []:
            assert request.get("auth") == {"type": "noauth"}, f"{method} {path} is public"
        else:
            assert "auth" not in request, f"{method} {path} inherits the bearer token"
        content = op.get("requestBody", {}).get("content", {})
        if "application/json" in content and len(content) == 1:
            assert json.loads(request["body"]["raw"]) == content["application/json"]["example"]
        elif "multipart/form-data" in content:
            assert request["body"]["mode"] == "formdata"
        for name in [p["name"] for p in op.get("parameters", []) if p.get("in") == "path"]:
            assert name in [v["key"] for v in request["url"]["variable"]]
