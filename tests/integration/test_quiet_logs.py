"""#25: warnings once and only where relevant."""

from __future__ import annotations

from monitor.cli.main import main
from tests.conftest import CONFIG_DIR


def test_commands_that_never_notify_do_not_mention_receivers(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'quiet.db'}"
    for argv, code in ((["collect", "--source", "demo"], 0), (["report", "--out", str(tmp_path / "r")], 1),
                       (["alerts", "list"], 0)):
        assert main([*argv, "--config", str(CONFIG_DIR), "--db", db]) == code
        assert "has no URL configured" not in capsys.readouterr().err, argv
