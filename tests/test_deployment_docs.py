"""The deployment guide and the files in deploy/ stay true to the code: every `civicswitch …` command they show
exists with the options they give it, every CIVICSWITCH_ variable is a setting, and the numbers that must agree
between the units, the proxy, the image and the server's defaults do."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer.main

from civicswitch.cli import app
from civicswitch.settings import Settings

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "deployment.md"
CONTAINERFILE = REPO / "Containerfile"
WEB_UNIT = REPO / "deploy" / "systemd" / "civicswitch-web.service"
NGINX = REPO / "deploy" / "nginx" / "civicswitch.conf"
FILES = [GUIDE, CONTAINERFILE, *sorted(p for p in (REPO / "deploy").rglob("*") if p.is_file())]

# `civicswitch WORD [WORD]`: the program (alone or at the end of a path such as /opt/civicswitch/bin/civicswitch),
# then one or two command words (not `civicswitch-web` nor `civicswitch:0.1.0`), then the rest of the command.
COMMAND = re.compile(
    r"(?<![\w.@:=/-])(?:[\w./-]*/bin/)?civicswitch"
    r"((?:[ \t]+[a-z]+(?:-[a-z]+)*(?=[\s`'\")\];,]|$)){1,2})([^\n`|;&]*)"
)
# Where a program starts: a line's or a span's start, after a shell operator, `exec`, `sudo`, a prompt, a unit's
# ExecStart path or an image name (`podman run … civicswitch:0.1.0 civicswitch migrate`). Elsewhere (a role in
# `hostssl civicswitch civicswitch …`, `sudo -u civicswitch sh`) only a known command name counts.
PROGRAM_START = re.compile(r"(?:^|\n|&&|\|\||;|\bexec|\bsudo|\$|:[\w.-]+)[ \t]*$")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*")
VARIABLE = re.compile(r"\bCIVICSWITCH_[A-Z][A-Z0-9_]*")
COMMANDS: set[str] = set(getattr(typer.main.get_command(app), "commands", {}))


def _code(path: Path) -> list[str]:
    """The parts of a file that are commands: a guide's code blocks (SQL aside) and code spans; a unit's,
    proxy's or image's code spans in comments, `ExecStart=` lines and JSON `CMD` arrays."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        parts = [m.group(2) for m in re.finditer(r"```(\w*)\n(.*?)```", text, re.S) if m.group(1) != "sql"]
        prose = re.sub(r"```.*?```", "", text, flags=re.S)
        return parts + re.findall(r"`([^`\n]+)`", prose)
    parts = re.findall(r"`([^`\n]+)`", text)
    parts += re.findall(r"^ExecStart=(.*)$", text, re.M)
    parts += [" ".join(json.loads(m)) for m in re.findall(r"^(?:CMD|ENTRYPOINT) (\[.*\])$", text, re.M)]
    return parts


def _mentions() -> list[tuple[str, list[str], list[str]]]:
    """(file, command words, options) of every `civicswitch …` command shown."""
    found = []
    for path in FILES:
        for part in _code(path):
            for match in COMMAND.finditer(part):
                words = match.group(1).split()
                starts = PROGRAM_START.search(part[: match.start()]) is not None or "/bin/" in match.group(0)
                if starts or words[0] in COMMANDS:
                    found.append((path.relative_to(REPO).as_posix(), words, OPTION.findall(match.group(2))))
    return found


def _resolve(words: list[str]) -> tuple[Any, str]:
    """The command ``civicswitch WORDS…`` names (None when there is none) and its name. Typer vendors its own
    click, so groups are told by their ``commands``."""
    command: Any = typer.main.get_command(app)
    path = "civicswitch"
    for word in words:
        if not hasattr(command, "commands"):
            break  # an argument, e.g. `civicswitch backup FILE`
        sub = command.commands.get(word)
        if sub is None:
            return None, f"{path} {word}"
        command, path = sub, f"{path} {word}"
    return (None if hasattr(command, "commands") else command), path


def test_deployment_files__civicswitch_commands__found_in_every_file_that_names_them() -> None:
    files = {file for file, _, _ in _mentions()}
    assert files >= {
        "docs/deployment.md",
        "Containerfile",
        "deploy/systemd/civicswitch-web.service",
        "deploy/systemd/civicswitch-worker@.service",
    }


def test_deployment_files__every_civicswitch_command__exists_with_the_options_shown() -> None:
    wrong = []
    for file, words, options in _mentions():
        command, path = _resolve(words)
        if command is None:
            wrong.append(f"{file}: `{path}` is not a command")
            continue
        known = {"--help", *(opt for p in command.params for opt in (*p.opts, *p.secondary_opts))}
        wrong += [f"{file}: `{path}` has no option {option}" for option in options if option not in known]
    assert wrong == []


def test_deployment_files__every_civicswitch_variable__is_a_setting() -> None:
    wrong = [
        f"{path.relative_to(REPO)}: {name}"
        for path in FILES
        for name in sorted(set(VARIABLE.findall(path.read_text(encoding="utf-8"))))
        if name.removeprefix("CIVICSWITCH_").lower() not in Settings.model_fields
    ]
    assert wrong == []


def test_env_example__names_the_variables_the_guide_asks_for() -> None:
    names = set(re.findall(r"^(CIVICSWITCH_[A-Z_]+)=", (REPO / "deploy" / "civicswitch.env.example").read_text(), re.M))
    assert names == {
        "CIVICSWITCH_DATABASE_URL",
        "CIVICSWITCH_PUBLIC_URL",
        "CIVICSWITCH_ALLOWED_HOSTS",
        "CIVICSWITCH_FORWARDED_ALLOW_IPS",
        "CIVICSWITCH_SECRET_KEY",
        "CIVICSWITCH_LOG_LEVEL",
    }


def _serve_default_port() -> int:
    command, _ = _resolve(["serve"])
    assert command is not None
    (port,) = [p.default for p in command.params if p.name == "port"]
    assert isinstance(port, int)
    return port


def test_containerfile__health_check__asks_healthz_on_the_port_the_default_command_serves() -> None:
    text = CONTAINERFILE.read_text(encoding="utf-8")
    (cmd,) = re.findall(r"^CMD (\[.*\])$", text, re.M)
    assert json.loads(cmd) == ["civicswitch", "serve", "--host", "0.0.0.0"]
    (check,) = re.findall(r"^HEALTHCHECK .*\n\s+CMD (\[.*\])$", text.replace("\\\n", "\n"), re.M)
    program = json.loads(check)
    assert program[:2] == ["python", "-c"]
    assert f"http://127.0.0.1:{_serve_default_port()}/healthz" in program[2]
    assert re.search(r"^USER \d+:\d+$", text, re.M), "a numeric, non-root user"


def test_nginx_and_web_unit__same_port__body_size_and_keep_alive_agree_with_the_server() -> None:
    unit = WEB_UNIT.read_text(encoding="utf-8")
    nginx = NGINX.read_text(encoding="utf-8")
    (port,) = re.findall(r"^ExecStart=.* serve .*--port (\d+)", unit, re.M)
    assert re.search(rf"^\s+server 127\.0\.0\.1:{port};", nginx, re.M)
    (body,) = re.findall(r"client_max_body_size (\d+)m;", nginx)
    assert int(body) * 1024 * 1024 == Settings.model_fields["max_body_bytes"].default
    upstream = nginx.split("upstream civicswitch {", 1)[1].split("}", 1)[0]
    (idle,) = re.findall(r"keepalive_timeout (\d+)s;", upstream)
    assert int(idle) < Settings.model_fields["keep_alive_timeout_seconds"].default


@pytest.mark.parametrize("unit", ["civicswitch-web.service", "civicswitch-worker@.service"])
def test_systemd_units__run_as_the_service_user_with_the_env_file_and_hardening(unit: str) -> None:
    text = (REPO / "deploy" / "systemd" / unit).read_text(encoding="utf-8")
    for line in (
        "User=civicswitch",
        "EnvironmentFile=/etc/civicswitch/civicswitch.env",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=",
    ):
        assert re.search(rf"^{re.escape(line)}$", text, re.M), f"{unit}: {line}"
