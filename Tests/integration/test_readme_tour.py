"""The README's "First requests" block, run as written against the test instance: only the
base URL, the certificate and the account's name are changed. A tour that no longer works
fails here."""
import json
import re
import subprocess
import uuid
from pathlib import Path

from conftest import BASE, ENV

REPO = Path(__file__).resolve().parents[2]


def tour():
    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- tour:begin -->\n```sh\n(.*?)```\n<!-- tour:end -->", text, re.S)
    assert block, "the README has no tour block"
    return block.group(1)


def test_the_readme_tour_runs_from_upload_to_embed_code():
    script = tour()
    name = "tour" + uuid.uuid4().hex[:10]
    for old, new in [("ASSAY=https://127.0.0.1:8443", f"ASSAY={BASE}"), ("var/nginx/tls/cert.pem", ENV["ASSAY_TLS_CERT"]),
                     ("ada@example.com", f"{name}@example.com"), ('"username": "ada"', f'"username": "{name}"')]:
        assert old in script, old
        script = script.replace(old, new)
    # From a client address of its own (the test profile's nginx takes it from this header), so
    # what the modules before it counted against 127.0.0.1's hourly quota cannot refuse it.
    script = script.replace('CURL="curl ', 'CURL="curl -H X-Assay-Test-Remote-Addr:198.51.100.44 ', 1)
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300,
                         env={k: v for k, v in ENV.items() if k not in ("CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE")})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    # What the steps printed, one JSON answer after another: the table's rows, the share
    # link, the embed code.
    answers, rest, decoder = [], out.stdout.strip(), json.JSONDecoder()
    while rest:
        value, end = decoder.raw_decode(rest)
        answers.append(value)
        rest = rest[end:].lstrip()
    rows, link, code = answers
    assert rows["rows"], rows
    assert link["url"] == f'{ENV["ASSAY_PUBLIC_URL"].rstrip("/")}/share/{link["share_id"]}'
    assert code["iframe"].startswith("<iframe") and 'loading="lazy"' in code["iframe"]
