"""Flower engine: a ``ServerApp`` and a ``ClientApp`` around the same client/server functions as
the simulator. Model states and the method's extra arrays (prototypes, feature gradients) travel
as ``ArrayRecord``s; the round and client id as a ``ConfigRecord``.

The ServerApp first asks every node which data partition it holds (a ``query`` message), then
each round samples partitions exactly as the simulator does and trains on the matching nodes, so
both engines run the same computation. ``backend=ray`` uses Flower's simulation runtime;
``backend=inprocess`` passes the same messages to the ClientApp in this process (for machines
where Ray cannot start).

On a real deployment (``client_app``, ``server_app``; the Flower App project is
``papers/fed_rebalance/flower_app``) each SuperNode needs its partition id in the node config
(``--node-config partition-id=0``), and the run carries the resolved experiment YAML in the run
config key ``fed-config`` (a TOML file ``fed-config = '''<yaml>'''`` given to ``flwr run
--run-config run.toml``). The ServerApp waits for one SuperNode per client and prints each
round's metrics (``round 1: {...}``) to the run's log (``flwr run --stream``, ``flwr log``).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterable

import torch
from omegaconf import OmegaConf

from common.params import build_params
from papers.fed_rebalance.evaluation import round_report
from papers.fed_rebalance.federated import (
    Arrays,
    ClientReply,
    FedServer,
    RoundCallback,
    run_client,
)
from papers.fed_rebalance.fedsetup import FedSetup, initial_server, setup_from_run
from papers.fed_rebalance.settings import FedTask, FlowerSettings

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")

from flwr.app import (  # noqa: E402
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    MetricRecord,
    RecordDict,
)
from flwr.clientapp import ClientApp  # noqa: E402
from flwr.serverapp import Grid, ServerApp  # noqa: E402


def to_record(arrays: Arrays) -> ArrayRecord:
    """Tensors -> ArrayRecord (bool masks travel as uint8)."""
    plain = {
        k: (v.to(torch.uint8) if v.dtype == torch.bool else v).detach().cpu()
        for k, v in arrays.items()
    }
    return ArrayRecord(torch_state_dict=plain) if plain else ArrayRecord()


def from_record(record: ArrayRecord) -> Arrays:
    return dict(record.to_torch_state_dict()) if len(record) else {}


def make_client_app(load_setup: Callable[[Context], FedSetup]) -> ClientApp:
    """A ClientApp whose ``train`` runs :func:`run_client` on the node's partition and whose
    ``query`` reports the partition id."""
    app = ClientApp()

    @app.query()
    def query(msg: Message, context: Context) -> Message:
        pid = int(context.node_config["partition-id"])
        return Message(RecordDict({"info": ConfigRecord({"partition-id": pid})}), reply_to=msg)

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        setup = load_setup(context)
        conf = msg.content["config"]
        pid = int(context.node_config["partition-id"])
        method = setup.make_method()
        reply = run_client(
            method,
            setup.make_model,
            from_record(msg.content["model"]),
            from_record(msg.content["extras"]),
            setup.clients[pid],
            local=setup.local,
            prep=setup.prep,
            num_classes=setup.num_classes,
            seed=int(conf["seed"]),
            round_idx=int(conf["round"]),
            client_id=pid,
        )
        content = RecordDict(
            {
                "model": to_record(reply.state),
                "extras": to_record(reply.arrays),
                "metrics": MetricRecord({"num-examples": reply.num_samples, **reply.metrics}),
            }
        )
        return Message(content, reply_to=msg)

    return app


@functools.cache
def _setup_from_yaml(text: str) -> tuple[FedTask, FedSetup, int]:
    """Deployment: the typed task, the setup and the seed of a resolved experiment config (YAML)
    (``build_params`` directly: ``common.run.prepare_task`` would import the experiment module,
    which imports this engine)."""
    cfg = OmegaConf.create(text)
    values = OmegaConf.to_container(cfg.task, resolve=True)
    values.pop("_target_", None)
    task = build_params(FedTask, values)
    return task, setup_from_run(cfg, task, torch.device("cpu")), int(cfg.seed)


def _setup_from_run_config(context: Context) -> FedSetup:
    """Deployment: the resolved experiment config (YAML) comes in the run config under
    ``fed-config``; the setup is built once per process."""
    return _setup_from_yaml(str(context.run_config["fed-config"]))[1]


client_app = make_client_app(_setup_from_run_config)


def wait_for_nodes(grid: Grid, count: int, timeout_s: float = 600.0) -> list[int]:
    """The grid's node ids once ``count`` nodes are connected: on a deployment, SuperNodes may
    connect after ``flwr run`` has started the ServerApp."""
    deadline = time.monotonic() + timeout_s
    while len(nodes := list(grid.get_node_ids())) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(nodes)} of {count} SuperNodes connected in {timeout_s:.0f} s")
        time.sleep(1.0)
    return nodes


def server_loop(
    grid: Grid, setup: FedSetup, *, rounds: int, per_round: int, seed: int,
    on_round: RoundCallback,
) -> FedServer:
    """The ServerApp's main: map partitions to nodes, then sample / train / aggregate each round
    (the initial global model as in the simulator: ``fedsetup.initial_server``)."""
    server = initial_server(setup, per_round, seed)
    nodes = wait_for_nodes(grid, len(setup.clients))
    asks = [grid.create_message(RecordDict(), "query", n, "map") for n in nodes]
    node_of = {
        int(r.content["info"]["partition-id"]): r.metadata.src_node_id
        for r in grid.send_and_receive(asks)
    }
    for r in range(rounds):
        messages = []
        for cid in server.sample():
            state, arrays = server.message(cid)
            content = RecordDict(
                {
                    "model": to_record(state),
                    "extras": to_record(arrays),
                    "config": ConfigRecord({"round": r, "seed": seed}),
                }
            )
            messages.append(grid.create_message(content, "train", node_of[cid], str(r)))
        pid_of = {v: k for k, v in node_of.items()}
        replies = []
        for reply in grid.send_and_receive(messages):
            if reply.has_error():
                raise RuntimeError(f"client failed in round {r}: {reply.error}")
            stats = reply.content["metrics"]
            replies.append(
                (
                    pid_of[reply.metadata.src_node_id],
                    ClientReply(
                        from_record(reply.content["model"]),
                        int(stats["num-examples"]),
                        from_record(reply.content["extras"]),
                        {"loss": float(stats["loss"])},
                    ),
                )
            )
        on_round(r, server, server.aggregate(replies))
    return server


class InProcessGrid(Grid):
    """A Grid that delivers each message to a ClientApp in this process (node i = partition i)."""

    def __init__(self, app: ClientApp, num_nodes: int):
        from flwr.supercore.task_identity import TaskIdentity

        for field in ("run_id", "node_id", "task_id"):  # what the SuperLink would assign
            if getattr(TaskIdentity, f"_{field}", None) is None:
                setattr(TaskIdentity, field, 0)
        self.app = app
        self.contexts = {
            n + 1: Context(
                run_id=0,
                node_id=n + 1,
                node_config={"partition-id": n},
                state=RecordDict(),
                run_config={},
            )
            for n in range(num_nodes)
        }

    def set_run(self, run_id: int) -> None:  # a single implicit run
        return None

    @property
    def run(self):
        return None

    def create_message(
        self,
        content: RecordDict,
        message_type: str,
        dst_node_id: int,
        group_id: str,
        ttl: float | None = None,
    ) -> Message:
        return Message(content, dst_node_id, message_type, group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:
        return list(self.contexts)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        raise NotImplementedError("InProcessGrid only supports send_and_receive")

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        raise NotImplementedError("InProcessGrid only supports send_and_receive")

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        from flwr.supercore.task_identity import TaskIdentity

        replies = []
        for msg in messages:
            node = msg.metadata.dst_node_id
            TaskIdentity.node_id = node  # the reply's src_node_id, as on a real SuperNode
            replies.append(self.app(msg, self.contexts[node]))
        TaskIdentity.node_id = 0
        return replies


def run_flower(
    setup: FedSetup,
    *,
    rounds: int,
    per_round: int,
    seed: int,
    on_round: RoundCallback,
    flower: FlowerSettings,
) -> FedServer:
    """Run ``rounds`` rounds through Flower (``flower.backend``: ray | inprocess)."""
    app = make_client_app(lambda context: setup)
    loop = functools.partial(server_loop, setup=setup, rounds=rounds, per_round=per_round,
                             seed=seed, on_round=on_round)
    if flower.backend == "inprocess":
        return loop(InProcessGrid(app, len(setup.clients)))
    from flwr.simulation import run_simulation

    result: dict[str, FedServer] = {}
    server_app = ServerApp()

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        result["server"] = loop(grid)

    resources = {"num_cpus": flower.cpus_per_client, "num_gpus": 0.0}
    run_simulation(
        server_app,
        app,
        num_supernodes=len(setup.clients),
        backend_config={"client_resources": resources},
    )
    if "server" not in result:
        raise RuntimeError("the Flower simulation ended without finishing the ServerApp")
    return result["server"]


server_app = ServerApp()


@server_app.main()
def _deployment_main(grid: Grid, context: Context) -> None:
    """Deployment ServerApp: the run config's ``fed-config`` (resolved experiment YAML) names the
    setup; each round's metrics (with the test accuracies every ``fed.eval_every`` rounds and
    after the last) are printed."""
    text = str(context.run_config["fed-config"])
    task, setup, seed = _setup_from_yaml(text)
    fed = task.fed

    def on_round(r: int, server: FedServer, metrics: dict[str, float]) -> None:
        print(f"round {r + 1}: {round_report(r, server, setup, fed, metrics)}")

    server_loop(grid, setup, rounds=fed.rounds, per_round=fed.per_round, seed=seed,
                on_round=on_round)
