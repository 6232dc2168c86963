from pathlib import Path

from suanli.config import Settings, describe

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_is_documented():
    text = DOCS.read_text()
    for env, _, description in describe():
        assert f"`{env}`" in text, f"{env} is missing from docs/configuration.md"
        assert description, f"{env} has no description"


def test_environment_variables_reach_nested_settings(monkeypatch):
    monkeypatch.setenv("SUANLI_SCHEDULER__INTERVAL_S", "2.5")
    monkeypatch.setenv("SUANLI_LIMITS__MAX_LOG_BYTES", "1000")
    settings = Settings()
    assert settings.scheduler.interval_s == 2.5 and settings.limits.max_log_bytes == 1000


def test_config_file_is_read(monkeypatch, tmp_path):
    (tmp_path / "config.toml").write_text("[server]\nport = 9999\n")
    monkeypatch.setenv("SUANLI_HOME", str(tmp_path))
    assert Settings().server.port == 9999
    monkeypatch.setenv("SUANLI_SERVER__PORT", "7777")
    assert Settings().server.port == 7777
