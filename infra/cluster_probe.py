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
    """Alive nodes and CPUs; a task pinned to each node with CPUs; `tasks` free tasks; where all ran."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    with ray_session(address=address):

        @ray.remote(num_cpus=1)
        def where() -> str:
            return ray.get_runtime_context().get_node_id()

        nodes = [n for n in ray.nodes() if n.get("Alive")]
        head_ids = {n["NodeID"] for n in nodes if "node:__internal_head__" in n.get("Resources", {})}
        with_cpus = [n["NodeID"] for n in nodes if n.get("Resources", {}).get("CPU", 0.0) >= 1]
        pinned = ray.get(
            [
                where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(i, soft=False)).remote()
                for i in with_cpus
            ]
        )
        free = ray.get([where.remote() for _ in range(tasks)])
        return {
            "nodes": len(nodes),
            "addresses": sorted({n["NodeManagerAddress"] for n in nodes}),
            "cpus": sum(n.get("Resources", {}).get("CPU", 0.0) for n in nodes),
            "task_nodes": sum(1 for want, got in zip(with_cpus, pinned, strict=True) if want == got),
            "tasks_on_head": sum(1 for node_id in free + pinned if node_id in head_ids),
            "tasks": len(free) + len(pinned),
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
