#!/usr/bin/env python3
"""db_copy.py: move an SQLite sipd database into PostgreSQL (going from one node to several).

    scripts/db_copy.py [-f modules.conf] [--replace] FROM.db 'postgresql://user@host:port/dbname'

1. Runs `sipd -c -f modules.conf --db TO` once: every module configured there migrates its tables
   on the target, so the schema is exactly the one this sipd expects.
2. Copies every table of FROM (except schema_version and nodes, which belong to each database and
   each running node) into the table of the same name on TO, the columns both have, in one
   transaction per table (psql's \\copy ... FROM STDIN in CSV).

A target table that already holds rows is refused unless --replace is given (which empties it
first). Stop sipd on FROM first: the copy reads a consistent snapshot, but registrations made
during the copy would not be in it. Needs psql (Debian package postgresql-client)."""

import argparse
import os
import sqlite3
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIPPED = {"schema_version", "nodes", "sqlite_sequence"}


def csv_field(v):
    """PostgreSQL CSV: NULL is an unquoted empty field, text is quoted."""
    if v is None:
        return ""
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return '"' + str(v).replace('"', '""') + '"'


def psql(target, sql, stdin=None):
    p = subprocess.run(["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", target, "-c", sql],
                       input=stdin, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"psql: {sql.splitlines()[0]}: {p.stderr.strip()}")
    return p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-f", "--config", default=os.path.join(ROOT, "modules.conf"),
                    help="modules.conf whose modules own the tables (default: the repository's)")
    ap.add_argument("--sipd", default=os.path.join(ROOT, "build", "core", "sipd"), help="the sipd binary")
    ap.add_argument("--replace", action="store_true", help="empty non-empty target tables first")
    ap.add_argument("source", help="the SQLite database file")
    ap.add_argument("target", help="PostgreSQL: postgresql://user@host:port/dbname or 'host=... dbname=...'")
    a = ap.parse_args()

    if not os.path.isfile(a.source):
        sys.exit(f"db_copy: {a.source}: no such SQLite database")
    # Rows already there before the modules' own set-up (their init may add some, e.g. a nonce secret).
    before = {}
    for line in psql(a.target, "SELECT table_name FROM information_schema.tables "
                               "WHERE table_schema = current_schema()").split():
        before[line] = int(psql(a.target, f'SELECT count(*) FROM "{line}"').strip() or 0)
    check = subprocess.run([a.sipd, "-c", "-f", a.config, "--db", a.target], capture_output=True, text=True)
    if check.returncode != 0:
        sys.exit(f"db_copy: preparing the tables on the target failed:\n{check.stdout}{check.stderr}")

    src = sqlite3.connect(f"file:{a.source}?mode=ro", uri=True)
    tables = [r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    copied = 0
    for table in tables:
        if table in SKIPPED:
            continue
        src_cols = [r[1] for r in src.execute(f'PRAGMA table_info("{table}")')]
        dst_cols = psql(a.target, "SELECT column_name FROM information_schema.columns "
                                  f"WHERE table_schema = current_schema() AND table_name = '{table}'").split()
        if not dst_cols:
            print(f"db_copy: {table}: not on the target (its module is not in {a.config}): skipped")
            continue
        cols = [c for c in src_cols if c in dst_cols]
        have = int(psql(a.target, f'SELECT count(*) FROM "{table}"').strip() or 0)
        if have and not a.replace and before.get(table, 0):
            sys.exit(f"db_copy: {table} already holds {have} rows on the target; use --replace to overwrite")
        quoted = ", ".join(f'"{c}"' for c in cols)
        rows = src.execute(f'SELECT {quoted} FROM "{table}"').fetchall()
        data = "".join(",".join(csv_field(v) for v in row) + "\n" for row in rows)
        # One psql session in one transaction (-1): DELETE, \copy: all of the table or nothing.
        p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", a.target,
                            "-c", f'DELETE FROM "{table}"' if have else "SELECT 1",
                            "-c", f'\\copy "{table}"({quoted}) FROM STDIN WITH (FORMAT csv)'],
                           input=data, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"db_copy: copying {table} failed (nothing of it was written): {p.stderr.strip()}")
        print(f"db_copy: {table}: {len(rows)} rows")
        copied += len(rows)
    print(f"db_copy: {copied} rows copied from {a.source}")


if __name__ == "__main__":
    main()
