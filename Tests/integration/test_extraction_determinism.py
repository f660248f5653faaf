"""The same input gives the same output: the development corpora's text PDFs and images
(zugferd, icdar2013, i2d) extracted by two separate `assay extract --bench` processes (each
with its own hash seed, so an order that leans on a Set or a Dictionary shows) give the same
tables, fields and text, file by file. Skipped when ../shared/corpus is not beside the
repository."""
import json
import os
import subprocess

import pytest

from conftest import ENV

CORPUS = os.path.join(ENV.get("ASSAY_REPO", "."), "..", "shared", "corpus")
needs_corpus = pytest.mark.skipif(not os.path.isdir(CORPUS), reason="../shared/corpus is not beside the repository")


def extract(docs, out):
    out.mkdir()
    run = subprocess.run([ENV["ASSAY_BIN"], "extract", "--bench", docs, str(out)], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    results = {}
    for name in sorted(os.listdir(out)):
        document = json.loads((out / name).read_text())
        results[name] = {key: document.get(key) for key in ("tables", "fields", "text")}
    return results


@needs_corpus
@pytest.mark.parametrize("corpus", ["zugferd", "icdar2013", "i2d"])
def test_two_runs_extract_the_same(corpus, tmp_path):
    docs = os.path.join(CORPUS, corpus, "docs")
    first, second = extract(docs, tmp_path / "first"), extract(docs, tmp_path / "second")
    assert len(first) == len(os.listdir(docs)) and first.keys() == second.keys()
    changed = [(name, key) for name in first for key in first[name] if first[name][key] != second[name][key]]
    assert changed == []
    assert any(result["tables"] for result in first.values()), "the corpus gave tables at all"
