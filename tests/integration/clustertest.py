"""Cluster-test harness: a throw-away PostgreSQL cluster (tests/pg/pg_cluster.sh) and sipd nodes sharing it.

Usage in a test script (the PostgreSQL server binaries missing or not starting counts as skipped):

    from clustertest import PgCluster, node
    run = TestRun("cluster_x")
    pg = PgCluster(run.name, "sipd_x")
    if not pg.start():
        return
    a = node(run.build, pg.conninfo, "node-a", "127.0.0.1")
    b = node(run.build, pg.conninfo, "node-b", "127.0.0.2")
    try:
        with a, b:
            ...
    finally:
        pg.remove()
"""

import os
import shutil
import subprocess
import tempfile

from sipdtest import ROOT, Sipd, free_port

CLUSTER = os.path.join(ROOT, "tests", "pg", "pg_cluster.sh")
ROUTING = open(os.path.join(ROOT, "routing.cfg")).read()
# core.node_dead_after of every node: seconds without a heartbeat before the others take over its sessions.
DEAD_AFTER = 4


def psql(conninfo, sql):
    """Runs one SQL statement through psql (raises on error)."""
    subprocess.run(["psql", "-qAt", conninfo, "-c", sql], check=True, capture_output=True, timeout=30)


def psql_rows(conninfo, sql):
    """The rows of a query as lists of column strings."""
    p = subprocess.run(["psql", "-qAt", "-F", "|", conninfo, "-c", sql], check=True, capture_output=True, text=True,
                       timeout=30)
    return [line.split("|") for line in p.stdout.splitlines() if line]


class PgCluster:
    """A PostgreSQL cluster in a temporary directory with one database for the test: start(), stop() and
    start_again() (same port), remove() at the end. admin is the superuser conninfo, conninfo the test's."""

    def __init__(self, name, dbname):
        self.name, self.dbname = name, dbname
        self.dir = tempfile.mkdtemp(prefix=f"sipd-{name}-pg-")
        os.chmod(self.dir, 0o755)
        self.admin = self.conninfo = None

    def start(self):
        """Starts the cluster (creating the database the first time); False after printing the skip lines when
        PostgreSQL is not installed or does not start here."""
        if not os.path.exists("/usr/lib/postgresql"):
            return self.skip("PostgreSQL server binaries are not installed (Debian package postgresql)")
        p = subprocess.run(["bash", CLUSTER, "start", self.dir], capture_output=True, text=True)
        if p.returncode != 0:
            return self.skip(f"PostgreSQL did not start here: {p.stderr.strip()}")
        if self.admin is None:
            self.admin = p.stdout.strip()
            self.conninfo = self.admin.replace("dbname=postgres", f"dbname={self.dbname}")
            psql(self.admin, f"CREATE DATABASE {self.dbname}")
        return True

    def skip(self, why):
        """Prints why the test is skipped and its counts line; returns False."""
        print(f"{self.name}: skipped: {why}")
        print(f"{self.name}: 0 passed, 0 failed, 1 skipped")
        self.remove()
        return False

    def stop(self, check=False):
        """Fast shutdown (raises if check and it fails)."""
        subprocess.run(["bash", CLUSTER, "stop", self.dir], check=check, capture_output=True)

    def start_again(self):
        """Starts the stopped cluster again on its port (raises on failure)."""
        subprocess.run(["bash", CLUSTER, "start", self.dir], check=True, capture_output=True)

    def remove(self):
        """Stops the cluster and deletes its directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Node(Sipd):
    """A node with the default modules, session timers short enough for a test (min_se 2 s)."""

    @staticmethod
    def default_modules_block():
        return Sipd.default_modules_block().replace("min_se = 90;", "min_se = 2; test_intervals = true;")


def node(build, conninfo, name, host):
    """A cluster node (not started) named name on UDP and TCP at host, on the database conninfo."""
    port = free_port(host=host)
    s = Node(build, modules="default", routing=ROUTING, port=port, workers=2, log_level=os.environ.get("LOG", "info"),
             listen=[f"udp:{host}:{port}", f"tcp:{host}:{port}"],
             core={"node_id": name, "node_address": f"sip:{host}:{port}", "node_dead_after": DEAD_AFTER})
    # Its own application_name, so that the test can cut this node's connection alone.
    s.db = f"{conninfo} application_name=sipd_{name.replace('-', '_')}"
    s.host = host
    return s
