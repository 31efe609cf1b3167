from __future__ import annotations

from pathlib import Path

import pytest

from vtuber.config import EngineConfig, build_config, load_config, parse_host_port
from vtuber.errors import ConfigError


def test_defaults_are_loopback_and_standard_ports() -> None:
    c = EngineConfig()
    assert c.websocket.host == "127.0.0.1" and c.websocket.port == 8765
    assert c.vmc.targets == ("127.0.0.1:39539",)
    assert c.source.spec == "demo"


def test_toml_file_and_overrides(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[source]\nspec = "clip.mp4"\npace = false\n[vmc]\ntargets = ["127.0.0.1:40000"]\n')
    c = load_config(f, {"track": {"mode": "upper_body"}})
    assert c.source.spec == "clip.mp4" and c.source.pace is False
    assert c.vmc.targets == ("127.0.0.1:40000",)
    assert c.track.mode == "upper_body"


@pytest.mark.parametrize(
    "text,match",
    [
        ("[source\nspec=1", "not valid TOML"),
        ("[nonsense]\na = 1", r"unknown section \[nonsense\]"),
        ("[vmc]\nport = 1", r"unknown key 'port' in \[vmc\]"),
        ('[websocket]\nport = "x"', r"\[websocket\] port must be an integer"),
        ("[websocket]\nport = 70000", r"\[websocket\] port must be 1-65535"),
        ('[track]\nmode = "legs"', r"\[track\] mode must be one of"),
        ('[vmc]\ntargets = ["nohost"]', "expected HOST:PORT"),
        ("[source]\npace = 1", r"\[source\] pace must be true or false"),
    ],
)
def test_malformed_config_names_file_and_field(tmp_path: Path, text: str, match: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        load_config(f)
    assert str(f) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_parse_host_port() -> None:
    assert parse_host_port("127.0.0.1:39539") == ("127.0.0.1", 39539)
    with pytest.raises(ConfigError):
        parse_host_port("127.0.0.1:0")


def test_build_config_without_file() -> None:
    assert build_config({}, {"avatar": {"mirror": True}}).avatar.mirror is True


def test_naming_an_output_on_the_command_line_turns_it_on(tmp_path: Path) -> None:
    """A settings file turned VMC, the WebSocket and the page off; --vmc, --ws and --page turn
    them back on (flags win), while --no-vmc still wins over the file."""
    from vtuber.cli import build_parser, run_overrides

    f = tmp_path / "off.toml"
    f.write_text("[vmc]\nenabled = false\n[websocket]\nenabled = false\n[page]\nenabled = false\n")
    args = build_parser().parse_args(["run", "--config", str(f), "--vmc", "127.0.0.1:40001", "--ws", "127.0.0.1:40002", "--page", "127.0.0.1:40003"])
    c = load_config(f, run_overrides(args))
    assert c.vmc.enabled and c.vmc.targets == ("127.0.0.1:40001",)
    assert c.websocket.enabled and c.websocket.port == 40002
    assert c.page.enabled and c.page.port == 40003
    args = build_parser().parse_args(["run", "--config", str(f), "--no-vmc"])
    assert not load_config(f, run_overrides(args)).vmc.enabled


@pytest.mark.parametrize(
    ("argv", "verbose"),
    [
        (["run"], False),
        (["-v", "run"], True),
        (["run", "-v"], True),
        (["replay", "s.jsonl", "--verbose"], True),
        (["calibrate", "profiles", "list", "-v"], True),
        (["bench", "throughput", "-v"], True),
    ],
)
def test_verbose_is_accepted_before_or_after_the_command(argv: list[str], verbose: bool) -> None:
    from vtuber.cli import build_parser

    assert build_parser().parse_args(argv).verbose is verbose
