"""``schedlab edge``: node logs, forecasters and the predictive scheduler of the edge family."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from schedlab.cli.common import app, fails_cleanly, out, progress

# -- edge -----------------------------------------------------------------------------------

edge_app = typer.Typer(
    help="Edge family tools: node logs for forecasters.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(edge_app, name="edge")


@edge_app.command("gen-logs")
@fails_cleanly
def edge_gen_logs(
    num_nodes: Annotated[int, typer.Option("--num-nodes", help="Number of nodes.")] = 10,
    steps: Annotated[int, typer.Option("--steps", help="Samples per node.")] = 1000,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between samples (sets timestamps).")] = 0.02,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the node dynamics.")] = 42,
    out_file: Annotated[Path, typer.Option("--out", help="CSV file to write.")] = Path("node_logs.csv"),
    scenario: Annotated[str, typer.Option("--scenario", help="Scenario of the node dynamics.")] = "edge",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Write node logs (timestamp,node_id,cpu,mem,delay,load) of the background node dynamics."""
    import numpy as np

    from schedlab.errors import ConfigError
    from schedlab.scenarios import load_scenario
    from schedlab.workloads.edge_nodes import NodeParams, generate_node_logs, write_node_logs

    for flag, value in (("--num-nodes", num_nodes), ("--steps", steps)):
        if value < 1:
            raise ConfigError(f"must be at least 1, got {value}", field=flag)
    if not (interval > 0 and math.isfinite(interval)):
        raise ConfigError(f"must be a positive number of seconds, got {interval}", field="--interval")
    sc = load_scenario(scenario)
    if sc.family != "edge":
        raise ConfigError(f"scenario {sc.name!r} is of family {sc.family!r}, not edge", field="--scenario")
    params = NodeParams.from_config(sc.nodes)
    with progress() as bar:
        task = bar.add_task(f"{num_nodes} nodes x {steps} steps", total=steps)
        log = generate_node_logs(
            num_nodes,
            steps,
            interval,
            params,
            np.random.default_rng(seed),
            progress=lambda k: bar.update(task, completed=k),
        )
    write_node_logs(out_file, log)
    if not quiet:
        out.print(f"wrote {out_file} ({num_nodes} nodes x {steps} steps, every {interval} s)")
