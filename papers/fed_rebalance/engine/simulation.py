"""Deterministic in-process engine: the server samples, each sampled client runs in turn."""

from __future__ import annotations

from collections.abc import Callable

from papers.fed_rebalance.federated import FedServer, RoundCallback, run_client
from papers.fed_rebalance.fedsetup import FedSetup, initial_server


def simulate(
    setup: FedSetup,
    *,
    rounds: int,
    per_round: int,
    seed: int,
    on_round: RoundCallback,
    progress: Callable = iter,
) -> FedServer:
    """Run ``rounds`` rounds; ``on_round(r, server, metrics)`` is called after each aggregation."""
    server = initial_server(setup, per_round, seed)
    client_method = setup.make_method()
    for r in progress(range(rounds)):
        replies = []
        for cid in server.sample():
            state, arrays = server.message(cid)
            reply = run_client(
                client_method,
                setup.make_model,
                state,
                arrays,
                setup.clients[cid],
                local=setup.local,
                prep=setup.prep,
                num_classes=setup.num_classes,
                seed=seed,
                round_idx=r,
                client_id=cid,
            )
            replies.append((cid, reply))
        on_round(r, server, server.aggregate(replies))
    return server
