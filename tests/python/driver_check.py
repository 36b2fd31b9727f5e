"""Drives a ccrsim node with the DataStax Python driver (cassandra-driver).

Run by tests/python_clients.rs: python driver_check.py HOST PORT KEYSPACE.
Prints one line per check and exits non-zero on the first failure. Any
warning or error the driver logs about the server fails the run.
"""
import logging
import os
import sys

from cassandra import InvalidRequest, Unauthorized
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.policies import DCAwareRoundRobinPolicy
from cassandra.murmur3 import murmur3
from cassandra.query import BatchStatement, BatchType, SimpleStatement

host, port, ks = sys.argv[1], int(sys.argv[2]), sys.argv[3]


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.records = []

    def emit(self, record):
        msg = self.format(record)
        # The driver's own version negotiation (it warns the same with
        # Apache Cassandra, which also does not speak DSE versions 0x42/0x41).
        if msg.startswith("Downgrading core protocol version"):
            return
        self.records.append(msg)


collected = Collect()
logging.getLogger("cassandra").addHandler(collected)
logging.getLogger("cassandra").setLevel(logging.WARNING)


def check(name, cond, detail=""):
    if not cond:
        print(f"FAIL {name} {detail}", flush=True)
        sys.exit(1)
    print(f"ok {name}", flush=True)


cluster = Cluster(
    [host],
    port=port,
    auth_provider=PlainTextAuthProvider("cassandra", "cassandra"),
    load_balancing_policy=DCAwareRoundRobinPolicy(local_dc="dc1"),
)
session = cluster.connect()
check("protocol version negotiated", cluster.protocol_version == 4, cluster.protocol_version)

local = session.execute("SELECT * FROM system.local WHERE key='local'").one()
check("system.local", local.release_version.startswith("4.1") and local.cluster_name, local)

session.execute(
    f"CREATE KEYSPACE {ks} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
)
session.execute(
    f"CREATE TABLE {ks}.users (id int, seq int, name text, tags set<text>, PRIMARY KEY (id, seq))"
)
session.execute(f"CREATE TABLE {ks}.blobs (k blob PRIMARY KEY, v int)")
check("schema agreement", cluster.control_connection.wait_for_schema_agreement())

cluster.refresh_schema_metadata()
meta = cluster.metadata
check("metadata keyspaces", ks in meta.keyspaces and "system_auth" in meta.keyspaces)
users = meta.keyspaces[ks].tables["users"]
check(
    "metadata columns",
    [c for c in users.columns] == ["id", "seq", "name", "tags"]
    and [c.name for c in users.partition_key] == ["id"]
    and [c.name for c in users.clustering_key] == ["seq"],
    list(users.columns),
)
check("metadata CQL export", "PRIMARY KEY (id, seq)" in users.export_as_string())
check("token map", meta.token_map is not None and len(meta.token_map.ring) == 16)
check("hosts", len(meta.all_hosts()) == 1 and meta.all_hosts()[0].datacenter)

session.set_keyspace(ks)
session.execute("INSERT INTO users (id, seq, name, tags) VALUES (%s, %s, %s, %s)", (1, 1, "ann", {"a", "b"}))
ins = session.prepare("INSERT INTO users (id, seq, name) VALUES (?, ?, ?)")
check("prepared routing key", ins.routing_key_indexes == [0], ins.routing_key_indexes)
for i in range(2, 50):
    session.execute(ins, (1, i, f"user{i}"))
sel = session.prepare("SELECT name, tags FROM users WHERE id = ? AND seq = ?")
row = session.execute(sel, (1, 1)).one()
check("prepared read", row.name == "ann" and row.tags == {"a", "b"}, row)

rows = list(session.execute(SimpleStatement("SELECT seq FROM users WHERE id = 1", fetch_size=7)))
check("paging", [r.seq for r in rows] == list(range(1, 50)), len(rows))

batch = BatchStatement()
batch.add(ins, (2, 1, "b1"))
batch.add("INSERT INTO users (id, seq, name) VALUES (2, 2, 'b2')")
session.execute(batch)
check("batch", len(list(session.execute("SELECT * FROM users WHERE id = 2"))) == 2)

# Cassandra's batch guards: the warning reaches the driver (which logs it),
# and a batch over batch_size_fail_threshold is refused.
unlogged = BatchStatement(batch_type=BatchType.UNLOGGED)
for k in range(100, 111):
    unlogged.add(ins, (k, 1, "u"))
warned = session.execute(unlogged).response_future.warnings
expected = (
    f"Unlogged batch covering 11 partitions detected against table [{ks}.users]. "
    "You should use a logged batch for atomicity, or asynchronous writes for performance."
)
check("unlogged batch warning", warned == [expected], warned)
logged = [r for r in collected.records if expected in r]
check("the driver logged the server's warning", len(logged) == 1, collected.records)
collected.records = [r for r in collected.records if expected not in r]
big = BatchStatement()
for k in (200, 201):
    big.add(ins, (k, 1, "x" * (26 * 1024)))
try:
    session.execute(big)
    check("batch too large", False)
except InvalidRequest as e:
    check("batch too large", "Batch too large" in str(e), e)

r = session.execute("INSERT INTO users (id, seq, name) VALUES (3, 1, 'x') IF NOT EXISTS").one()
r2 = session.execute("INSERT INTO users (id, seq, name) VALUES (3, 1, 'y') IF NOT EXISTS").one()
check("lwt", r.applied and not r2.applied and r2.name == "x", (r, r2))

session.execute("UPDATE users SET name = 'gone' WHERE id = 1 AND seq = 2")
session.execute("DELETE FROM users WHERE id = 1 AND seq = 2")
check("delete", session.execute("SELECT * FROM users WHERE id = 1 AND seq = 2").one() is None)

try:
    session.execute("SELECT * FROM users WHERE name = 'ann'")
    check("filtering refused", False)
except InvalidRequest as e:
    check("filtering refused", "ALLOW FILTERING" in str(e), e)

# Tokens: the server's token() equals the driver's murmur3 for random keys
# with bytes >= 0x80 (Cassandra's signed-tail variant).
keys = [os.urandom(1 + (i % 40)) for i in range(10000)]
bins = session.prepare("INSERT INTO blobs (k, v) VALUES (?, ?)")
execute_concurrent_with_args(session, bins, [(k, i) for i, k in enumerate(keys)], concurrency=64)
seen = 0
for row in session.execute(SimpleStatement("SELECT token(k), k FROM blobs", fetch_size=2000)):
    if row[0] != murmur3(row[1]):
        check("token function", False, (row[1].hex(), row[0], murmur3(row[1])))
    seen += 1
check("token function matches cassandra.murmur3 for 10000 keys", seen == len(set(keys)), seen)

# Roles: a new login role can connect; a wrong password is refused.
session.execute("CREATE ROLE IF NOT EXISTS app WITH PASSWORD = 'pw' AND LOGIN = true")
c2 = Cluster(
    [host],
    port=port,
    auth_provider=PlainTextAuthProvider("app", "pw"),
    load_balancing_policy=DCAwareRoundRobinPolicy(local_dc="dc1"),
)
s2 = c2.connect()
try:
    s2.execute("CREATE ROLE sneaky WITH SUPERUSER = true")
    check("non-superuser refused", False)
except Unauthorized:
    check("non-superuser refused", True)
c2.shutdown()

cluster.shutdown()
check("driver logged no warning or error", not collected.records, collected.records)
print("ALL OK")
