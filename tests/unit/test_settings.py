import pytest

from app.errors import ConfigurationError
from app.settings import Mode, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "JOBRELAY_MODE",
        "JOBRELAY_REDIS_URL",
        "JOBRELAY_BROKER_URL",
        "JOBRELAY_RESULT_URL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_without_redis_the_mode_is_local_and_needs_no_server(tmp_path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.resolved_mode is Mode.LOCAL
    assert settings.broker.startswith("filesystem://")
    assert settings.result_backend == f"file://{tmp_path / 'results'}"


def test_a_redis_url_makes_the_mode_cross_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBRELAY_REDIS_URL", "redis://:secret@127.0.0.1:6379/0")
    settings = load_settings()
    assert settings.resolved_mode is Mode.CROSS_INSTANCE
    assert settings.broker == "redis://:secret@127.0.0.1:6379/0"
    assert "secret" not in repr(settings)


def test_local_mode_may_be_forced_even_with_a_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBRELAY_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("JOBRELAY_MODE", "local")
    assert load_settings().broker.startswith("filesystem://")


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"JOBRELAY_MODE": "cross_instance"}, "needs JOBRELAY_REDIS_URL"),
        (
            {"JOBRELAY_REDIS_URL": "redis://h:6379", "JOBRELAY_BROKER_URL": "filesystem://"},
            "broker every host can reach",
        ),
        (
            {"JOBRELAY_NODE_TIMEOUT_S": "1", "JOBRELAY_HEARTBEAT_INTERVAL_S": "2"},
            "NODE_TIMEOUT_S must be longer",
        ),
        ({"JOBRELAY_MODE": "sharded"}, "mode"),
        ({"JOBRELAY_RETENTION_S": "soon"}, "retention_s"),
    ],
)
def test_contradictions_stop_with_what_to_change(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], says: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=says):
        load_settings()
