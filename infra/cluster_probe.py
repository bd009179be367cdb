"""Connect to a running Ray cluster the way the platform does and prove that work reaches its workers.

Run as its own driver process: `python -m hephaestus.infra.cluster_probe --address HOST:PORT --nodes 3`.
The last stdout line is a JSON report.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from hephaestus.platform.ray_session import ray_session


def probe(address: str | None, tasks: int = 4) -> dict[str, Any]:
    """Alive nodes with their CPUs, and on which nodes `tasks` one-CPU tasks ran (SPREAD)."""
    import ray

    with ray_session(address=address):

        @ray.remote(num_cpus=1, scheduling_strategy="SPREAD")
        def where(i: int) -> str:
            return ray.get_runtime_context().get_node_id()

        ran_on = ray.get([where.remote(i) for i in range(tasks)])
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        head_ids = [n["NodeID"] for n in nodes if "node:__internal_head__" in n.get("Resources", {})]
        return {
            "nodes": len(nodes),
            "cpus": sum(n.get("Resources", {}).get("CPU", 0.0) for n in nodes),
            "task_nodes": len(set(ran_on)),
            "tasks_on_head": sum(1 for node_id in ran_on if node_id in head_ids),
            "tasks": len(ran_on),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", default=None, help="Ray address (default: RAY_ADDRESS)")
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument(
        "--nodes", type=int, default=None, help="fail unless exactly this many nodes are alive"
    )
    args = parser.parse_args(argv)
    report = probe(args.address, args.tasks)
    print(json.dumps(report))
    if args.nodes is not None and report["nodes"] != args.nodes:
        print(f"expected {args.nodes} nodes, found {report['nodes']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
