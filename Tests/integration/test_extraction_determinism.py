"""The same input gives the same output: the development corpora's text PDFs and images
(zugferd, icdar2013, i2d) extracted by several separate `assay extract --bench` processes give
the same tables, fields and text, file by file.

Each process seeds Swift's `Hasher` afresh, so an order that leans on a Set or a Dictionary
(or on a sort that leaves ties to such an order) changes from run to run; two runs can agree by
chance, so the cheap text-PDF corpora are extracted five times. `SWIFT_DETERMINISTIC_HASHING`
would hide exactly this, so it is removed from the processes' environment. Skipped when
../shared/corpus is not beside the repository."""
import json
import os
import subprocess

import pytest

from conftest import ENV

CORPUS = os.path.join(ENV.get("ASSAY_REPO", "."), "..", "shared", "corpus")
needs_corpus = pytest.mark.skipif(not os.path.isdir(CORPUS), reason="../shared/corpus is not beside the repository")

# Runs per corpus: text PDFs cost milliseconds a page; i2d's images are OCR'd each time.
RUNS = {"zugferd": 5, "icdar2013": 5, "i2d": 2}


def extract(docs, out):
    out.mkdir()
    env = {key: value for key, value in os.environ.items()
           if key not in ("SWIFT_DETERMINISTIC_HASHING", "ASSAY_BENCH_PAGE_CACHE")}
    run = subprocess.run([ENV["ASSAY_BIN"], "extract", "--bench", docs, str(out)], capture_output=True, text=True,
                         timeout=900, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    results = {}
    for name in sorted(os.listdir(out)):
        document = json.loads((out / name).read_text())
        results[name] = {key: document.get(key) for key in ("tables", "fields", "text", "error")}
    return results


@needs_corpus
@pytest.mark.parametrize("corpus", sorted(RUNS))
def test_separate_runs_extract_the_same(corpus, tmp_path):
    docs = os.path.join(CORPUS, corpus, "docs")
    first = extract(docs, tmp_path / "run1")
    assert len(first) == len(os.listdir(docs))
    assert any(result["tables"] for result in first.values()), "the corpus gave tables at all"
    for number in range(2, RUNS[corpus] + 1):
        other = extract(docs, tmp_path / f"run{number}")
        assert other.keys() == first.keys()
        changed = [(name, key) for name in first for key in first[name] if first[name][key] != other[name][key]]
        assert changed == [], f"run {number} differs from run 1"
