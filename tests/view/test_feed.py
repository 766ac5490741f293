"""The shadow's feed: link status, restart and resync events, alarms (no browser)."""

from __future__ import annotations

from tests.view.driver import ShadowDriver
from twin.board.inprocess import parse_fault
from twin.view import LiveState


def _step_until(driver: ShadowDriver, board_s: float) -> None:
    sh = driver.shadow
    while sh.run_t_s < board_s:
        sh.step(0.05)
        driver.feed({"duration_s": None, "lag_p99_s": 0.0})


def test_feed_reports_link_restarts_and_alarms() -> None:
    state = LiveState(window=50)
    driver = ShadowDriver(state, faults=[parse_fault("7:free_gain=3@1.0")])
    driver.shadow.open()
    _step_until(driver, 0.2)
    status = state.snapshot()["latest"]["status"]
    assert status["frames"] >= 200
    assert status["resyncs"] == 1
    assert status["restarts"] == 0
    assert isinstance(status["epoch"], str)  # 63-bit epochs travel as text (exact in JS)
    assert status["last_frame_unix"] is not None
    epoch = status["epoch"]
    driver.board.restart()
    # the shadow restarted 0.2 s after joining, so its edges warm up (two resync intervals off
    # the rails, 0.5 s of board time) on the new epoch: the fault comes after that, at board
    # time 1.0 s (a fault inside an edge's warm-up is learned as its regime, not alarmed)
    _step_until(driver, 2.0)
    latest = state.snapshot()["latest"]
    assert latest["status"]["restarts"] == 1
    assert latest["status"]["resyncs"] == 2
    assert latest["status"]["epoch"] != epoch
    kinds = [e["kind"] for e in latest["events"]]
    assert kinds.count("restart") == 1
    assert latest["n_alarms"] >= 1  # the fault on edge 7 (board time 1.0 s after the restart)
    assert 7 in latest["alarms"][0]["edges"]
    driver.shadow.close()


def test_xy_feed_draws_the_graph_and_shows_phases_couplings_and_loss() -> None:
    import numpy as np

    from twin.learning.ep_train import XYTrainConfig, train_xy
    from twin.physics.xy.spec import graph_from_spec
    from twin.physics.xy.tasks import xor
    from twin.view import XYFeed

    state = LiveState(window=50, mode="xy")
    graph = graph_from_spec("lattice:3x3:skip=2", 2, 1)
    feed = XYFeed(state, graph, epochs=40)
    result = train_xy(graph, xor(), XYTrainConfig(epochs=40, sample_every=5),
                      np.random.default_rng(0), emit=state, watch=feed)  # fmt: skip
    snap = state.snapshot()
    layout, latest = snap["layout"], snap["latest"]
    assert (layout["n_nodes"], layout["n_edges"]) == (9, graph.n_edges)
    xs = [p[0] for p in layout["nodes"][:3]]
    assert xs == sorted(xs)  # row 0 left to right
    assert layout["nodes"][0][1] < layout["nodes"][3][1]  # row 0 above row 1 (y down)
    np.testing.assert_allclose(latest["edge_values"], result.params.w)
    phases = np.array(latest["node_values"])
    assert phases.shape == (9,)
    assert np.all((phases > -np.pi - 1e-12) & (phases <= np.pi + 1e-12))
    losses = [p[2] for p in snap["series"]["twin"]]  # the loss plays the error's part
    assert losses == [float(x) for x in result.history["loss"][::5]] + [result.history["loss"][-1]]
    assert latest["status"]["t_s"] == 39.0
    assert latest["status"]["duration_s"] == 40.0
    assert state.sizes()["values"] == 9 + graph.n_edges  # one value per node and edge


def test_twin_train_view_serves_xy_networks_only(capsys) -> None:
    from tests.helpers import run_cli

    code, out, err = run_cli(capsys, "train", "--physics", "xy", "--network", "all:6",
                             "--epochs", "20", "--view", "--json", "--no-db")  # fmt: skip
    assert code == 0, err
    assert "live view: http://127.0.0.1:" in err
    assert '"epochs":20' in out.replace(" ", "")
    code, _, err = run_cli(capsys, "train", "--steps", "2", "--view", "--no-db")
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "--physics xy" in err
