"""The `tipline` command, as an admin on a fresh machine would use it."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from tipline.cli import main

from .conftest import FLOWS

CONTRACT_FIELDS = {
    "reference", "created_at", "status", "urgency", "category", "description", "location", "channel",
    "language", "reporter", "contact_consent", "complete",
}
# Urgent: where the child is now first, then what is happening, kind, how many, contact, send.
REPORT = "hello\n1\n1\nDesa Sukamaju\nTwo boys carry bricks all day at the kiln, the owner keeps them\n1\n2\n1\n1\n"


@pytest.fixture
def env(tmp_path):
    return {
        "TIPLINE_INSTANCE_PATH": str(tmp_path / "instance"),
        "TIPLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "TIPLINE_FLOWS_PATH": str(FLOWS),
    }


def run(env, *args, input=None):
    result = CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)
    return result


def test_chat_then_export_json(env):
    chat = run(env, "chat", "--lang", "en", input=REPORT)
    assert chat.exit_code == 0, chat.output
    assert "112" in chat.output and "Report code: " in chat.output
    reference = chat.output.split("Report code: ")[1][:9]

    exported = run(env, "tips", "export")
    assert exported.exit_code == 0
    tips = json.loads(exported.output)
    assert len(tips) == 1
    tip = tips[0]
    assert CONTRACT_FIELDS <= set(tip)
    assert tip["reference"] == reference
    assert tip["urgency"] == "immediate" and tip["category"] == "forced_labour"
    assert tip["status"] == "new" and tip["complete"] is True and tip["contact_consent"] is True
    assert tip["channel"] == "sms" and tip["language"] == "en"
    assert tip["created_at"].endswith("Z") and "T" in tip["created_at"]
    assert len(tip["reporter"]) == 64 and "contact" not in json.dumps(tip).lower().replace("contact_consent", "")


def test_chat_whatsapp_channel_and_indonesian(env):
    chat = run(env, "chat", "--channel", "whatsapp", "--lang", "id", input="halo\n3\n")
    assert "Balas angka" in chat.output and "SAPA 129" in chat.output
    assert run(env, "chat", "--lang", "xx", input="").exit_code != 0


def test_export_csv_has_the_same_fields(env):
    run(env, "chat", "--lang", "en", input=REPORT)
    exported = run(env, "tips", "export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(exported.output)))
    assert len(rows) == 1 and CONTRACT_FIELDS <= set(rows[0])
    assert rows[0]["location"] == "Desa Sukamaju"


def test_export_of_an_empty_database_is_an_empty_array(env):
    assert json.loads(run(env, "tips", "export").output) == []


def test_db_upgrade_is_idempotent(env):
    assert run(env, "db", "upgrade").exit_code == 0
    assert run(env, "db", "upgrade").exit_code == 0


def test_generated_keys_are_private_and_stable(env, tmp_path):
    run(env, "db", "upgrade")
    instance = tmp_path / "instance"
    keys = {name: (instance / name).read_text() for name in ("secret_key", "pseudonym_key", "contact_key")}
    for name in keys:
        assert stat.S_IMODE((instance / name).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "cli.db").stat().st_mode) == 0o600  # reporters' words live there
    run(env, "db", "upgrade")
    assert keys == {name: (instance / name).read_text() for name in keys}
    Fernet(keys["contact_key"].strip())


@pytest.mark.parametrize(
    "name,value,message",
    [
        ("TIPLINE_SECRET_KEY", "short", "TIPLINE_SECRET_KEY is too short"),
        ("TIPLINE_PSEUDONYM_KEY", "x" * 10, "TIPLINE_PSEUDONYM_KEY is too short"),
        ("TIPLINE_CONTACT_KEY", "not-a-fernet-key", "TIPLINE_CONTACT_KEY is not a Fernet key"),
        ("TIPLINE_DATABASE_URL", "mysql://x", "TIPLINE_DATABASE_URL must be"),
        ("TIPLINE_DATABASE_URL", "sqlite:////tmp", "TIPLINE_DATABASE_URL names a directory"),
    ],
)
def test_unfit_settings_are_refused_with_a_clear_message(env, name, value, message):
    result = CliRunner().invoke(main, ["db", "upgrade"], env={**env, name: value})
    assert result.exit_code != 0
    assert message in result.output


def test_flows_check_ok_and_broken(env, tmp_path):
    assert run(env, "flows", "check").exit_code == 0
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "flow.yaml").write_text("initial: menu\nstates: {}\n")
    result = CliRunner().invoke(main, ["flows", "check"], env={**env, "TIPLINE_FLOWS_PATH": str(broken)})
    assert result.exit_code == 1
    assert "FAULT" in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_gunicorn_with_migrated_database(env):
    """The installed console script serves the webhook and health check (gunicorn, 2 workers)."""
    port = _free_port()
    script = Path(sys.executable).parent / "tipline"
    proc = subprocess.Popen(
        [str(script), "serve", "--port", str(port), "--workers", "2"],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        body = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    body = json.loads(response.read())
                    break
            except OSError:
                time.sleep(0.3)
        assert body == {"status": "ok"}
        request = urllib.request.Request(f"http://127.0.0.1:{port}/twilio/messages", data=b"Body=hi", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 403  # no TWILIO_AUTH_TOKEN: refuse everything
        refused.value.close()
    finally:
        proc.terminate()
        output = proc.communicate(timeout=90)[0]
    assert "/twilio/messages" in output


def test_plain_postgresql_urls_use_psycopg_3(env):
    from tipline.settings import Settings

    for url in ("postgresql://u@db/tips", "postgres://u@db/tips"):
        assert Settings.from_env({**env, "TIPLINE_DATABASE_URL": url}).database_url == "postgresql+psycopg://u@db/tips"


def test_csv_export_defuses_spreadsheet_formulas(env):
    run(env, "chat", "--lang", "en", input="hello\n1\n2\n=HYPERLINK(\"http://x.invalid\",\"click\")\n0\n@SUM(A1)\n0\n0\n2\n1\n")
    rows = list(csv.DictReader(io.StringIO(run(env, "tips", "export", "--format", "csv").output)))
    assert rows[0]["description"].startswith("'=HYPERLINK") and rows[0]["location"] == "'@SUM(A1)"
    tip = json.loads(run(env, "tips", "export").output)[0]
    assert tip["description"].startswith("=HYPERLINK")  # JSON keeps the words exactly
