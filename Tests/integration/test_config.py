"""Start-up refuses bad configuration with a clear message, before touching anything."""
import os
import subprocess

from conftest import ENV


def run_serve(**overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(overrides)
    # A socket path of its own: a refused start must not disturb the running instance.
    env["ASSAY_SOCKET"] = os.path.join(ENV["ASSAY_VAR_DIR"], "run", "refused.sock")
    env.pop("ASSAY_PID_FILE", None)
    return subprocess.run([ENV["ASSAY_BIN"], "serve"], env=env, capture_output=True, text=True, timeout=30)


def test_short_jwt_secret_is_refused():
    out = run_serve(JWT_SECRET_KEY="too-short")
    assert out.returncode == 2
    assert "JWT_SECRET_KEY" in out.stderr and "32 bytes" in out.stderr
    assert "too-short" not in out.stderr + out.stdout


def test_missing_jwt_secret_is_refused():
    env_without = {k: v for k, v in os.environ.items() if k != "JWT_SECRET_KEY"}
    env_without["ASSAY_SOCKET"] = os.path.join(ENV["ASSAY_VAR_DIR"], "run", "refused.sock")
    out = subprocess.run([ENV["ASSAY_BIN"], "serve"], env=env_without, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "JWT_SECRET_KEY" in out.stderr


def test_malformed_numbers_are_refused_with_their_name():
    out = run_serve(ASSAY_WORKERS="many")
    assert out.returncode == 2
    assert "ASSAY_WORKERS=many" in out.stderr
    out = run_serve(ASSAY_QUOTA_UPLOAD="0")
    assert out.returncode == 2
    assert "ASSAY_QUOTA_UPLOAD" in out.stderr


def test_help_documents_the_environment():
    out = subprocess.run([ENV["ASSAY_BIN"], "serve", "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    for name in ["DATABASE_URL", "ASSAY_WORKERS", "ASSAY_MAX_REQUESTS", "ASSAY_REQUEST_TIMEOUT", "JWT_SECRET_KEY",
                 "ASSAY_QUOTA_UPLOAD", "SMTP_URL"]:
        assert name in out.stdout, name


def test_version_command():
    out = subprocess.run([ENV["ASSAY_BIN"], "version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.startswith("assay ")


def test_migrate_needs_only_the_database():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "JWT_SECRET_KEY"}
    out = subprocess.run([ENV["ASSAY_BIN"], "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert '"msg":"database is up to date"' in out.stderr, out.stderr  # a JSON log line
    env.pop("DATABASE_URL")
    out = subprocess.run([ENV["ASSAY_BIN"], "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "DATABASE_URL" in out.stderr


def test_malformed_or_missing_encryption_key_is_refused():
    import base64
    for value in ["", "not-base64!!", base64.b64encode(b"x" * 16).decode()]:
        out = run_serve(ENCRYPTION_KEY=value)
        assert out.returncode == 2, out.stderr
        assert "ENCRYPTION_KEY" in out.stderr and "32 bytes" in out.stderr
        if value:
            assert value not in out.stderr + out.stdout
    out = run_serve(ENCRYPTION_KEY_PREVIOUS="short")
    assert out.returncode == 2 and "ENCRYPTION_KEY_PREVIOUS" in out.stderr


def test_bad_connection_policy_and_llm_settings_are_refused():
    out = run_serve(ASSAY_CONNECTION_DENY="10.0.0.0/99")
    assert out.returncode == 2 and "ASSAY_CONNECTION_DENY" in out.stderr
    out = run_serve(LLM_BASE_URL="http://127.0.0.1:1/v1")
    assert out.returncode == 2 and "LLM_MODEL" in out.stderr
    out = run_serve(LLM_BASE_URL="ftp://example.com", LLM_MODEL="m")
    assert out.returncode == 2 and "LLM_BASE_URL" in out.stderr
