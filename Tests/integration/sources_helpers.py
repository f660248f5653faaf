"""The source databases scripts/test starts on loopback: a PostgreSQL cluster and a
MariaDB server, separate from Assay's own database. Tests create their tables there as
the administrator and point connections at them as the `source` user."""
import subprocess
import uuid

from conftest import ENV


def pg_admin(sql):
    """Runs SQL in the source PostgreSQL's test database as its administrator."""
    out = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", ENV["ASSAY_SOURCE_PG_ADMIN_URL"]],
                         input=sql, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def mysql_admin(sql, database=None):
    """Runs SQL in the MariaDB test database as root (over its unix socket)."""
    args = ["mariadb", "--no-defaults", "--batch", "--skip-column-names", "--socket", ENV["ASSAY_MYSQL_ADMIN_SOCKET"],
            "-u", "root"]
    if ENV.get("ASSAY_MYSQL_ROOT_PASSWORD"):
        args.append("--password=" + ENV["ASSAY_MYSQL_ROOT_PASSWORD"])
    args.append(database or ENV["ASSAY_MYSQL_DATABASE"])
    out = subprocess.run(args, input=sql, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def unique_table(prefix="t"):
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def pg_body(**overrides):
    credentials = {"host": ENV["ASSAY_SOURCE_PG_HOST"], "port": int(ENV["ASSAY_SOURCE_PG_PORT"]),
                   "database": ENV["ASSAY_SOURCE_PG_DATABASE"], "username": ENV["ASSAY_SOURCE_PG_USER"],
                   "password": ENV["ASSAY_SOURCE_PG_PASSWORD"]}
    credentials.update(overrides.pop("credentials", {}))
    # manual: a daily frequency would give every test's connection a schedule that fires at midnight.
    body = {"name": "Source PG", "database_type": "postgresql", "credentials": credentials, "sync_frequency": "manual"}
    body.update(overrides)
    return body


def mysql_body(**overrides):
    credentials = {"host": ENV["ASSAY_MYSQL_HOST"], "port": int(ENV["ASSAY_MYSQL_PORT"]),
                   "database": ENV["ASSAY_MYSQL_DATABASE"], "username": ENV["ASSAY_MYSQL_USER"],
                   "password": ENV["ASSAY_MYSQL_PASSWORD"]}
    credentials.update(overrides.pop("credentials", {}))
    body = {"name": "Source MariaDB", "database_type": "mysql", "credentials": credentials}
    body.update(overrides)
    return body
