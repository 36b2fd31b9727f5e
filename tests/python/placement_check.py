"""Prints the Python driver's replicas for keys 0..N-1 (int partition keys).

Run by tests/cluster.rs: python placement_check.py HOST N KEYSPACE... ;
each output line is `keyspace key address,address,...` (sorted), after a
first line `hosts <n> <datacenters>` describing the driver's metadata.
"""
import struct
import sys

from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster
from cassandra.policies import DCAwareRoundRobinPolicy

host, n, keyspaces = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
cluster = Cluster(
    [host],
    auth_provider=PlainTextAuthProvider("cassandra", "cassandra"),
    load_balancing_policy=DCAwareRoundRobinPolicy(local_dc="dc1"),
)
cluster.connect()
hosts = cluster.metadata.all_hosts()
dcs = sorted({h.datacenter for h in hosts})
with_tokens = sum(1 for h in hosts if cluster.metadata.token_map.token_to_host_owner and h in cluster.metadata.token_map.token_to_host_owner.values())
out = [f"hosts {len(hosts)} {','.join(dcs)} {with_tokens}"]
for ks in keyspaces:
    for i in range(n):
        reps = cluster.metadata.get_replicas(ks, struct.pack(">i", i))
        out.append(f"{ks} {i} {','.join(sorted(str(h.address) for h in reps))}")
cluster.shutdown()
print("\n".join(out))
