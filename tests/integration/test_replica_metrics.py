"""One value per fact across replicas (#23): only the leader exports database-derived metrics."""

from __future__ import annotations

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from monitor.serve.leadership import FileLeaderLock, ProcessLeaderLock, leader_lock_for
from monitor.store.database import make_engine, migrate, session_factory
from monitor.telemetry.metrics import build_registry


def test_sqlite_replicas_elect_one_leader_by_a_file_lock(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'cw.db'}")
    first, second = leader_lock_for(engine, 1), leader_lock_for(engine, 1)
    assert isinstance(first, FileLeaderLock)
    assert first.try_acquire() and first.still_held()
    assert not second.try_acquire()  # flock is per open file description: a second process is refused alike
    first.release()
    assert second.try_acquire()
    second.release()
    assert isinstance(leader_lock_for(make_engine("sqlite://"), 1), ProcessLeaderLock)


def test_a_follower_exports_process_metrics_and_storage_up_only(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'cw.db'}")
    migrate(engine)
    registry, metrics = build_registry(session_factory(engine))
    metrics.leader.set(0)
    leader_body, _ = registry.render(CONTENT_TYPE_PLAIN_0_0_4)
    assert b"chainwatch_assessment_runs_total" in leader_body
    registry.stored.exports_stored_state = lambda: False
    body, _ = registry.render(CONTENT_TYPE_PLAIN_0_0_4)
    text = body.decode()
    assert "chainwatch_storage_up 1.0" in text
    assert "chainwatch_scheduler_leader 0.0" in text and "chainwatch_build_info" in text
    for stored in ("chainwatch_assessment_runs_total", "chainwatch_alerts", "chainwatch_chain_nodes_by_level",
                   "chainwatch_data_simulated", "chainwatch_stress_impact_score"):
        assert f"\n{stored}" not in text and not text.startswith(stored), stored
    assert registry.get_sample_value("chainwatch_data_simulated") is None
    engine.dispose()
