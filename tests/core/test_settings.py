"""The production configuration passes Django's deployment checks with zero warnings."""

import base64
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _production_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "TAKEDOWN_TESTING", "DJANGO_SETTINGS_MODULE"}}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "takedown.settings",
            "DJANGO_SECRET_KEY": base64.b64encode(os.urandom(48)).decode(),
            "ALLOWED_HOSTS": "takedown.example.org",
            "EVIDENCE_KEYS": base64.b64encode(os.urandom(32)).decode(),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "VAR_DIR": str(tmp_path),
            "EXPORT_TSA_URL": "https://tsa.example.org/rfc3161",
        }
    )
    return env


def test_check_deploy_is_clean_in_production_configuration(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_server_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    env = _production_env(tmp_path)
    del env["DJANGO_SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "-c", "import takedown.wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0 and "DJANGO_SECRET_KEY" in result.stderr


def test_secret_key_can_come_from_a_file(tmp_path: Path) -> None:
    env = _production_env(tmp_path)
    secret_file = tmp_path / "secret"
    secret_file.write_text(env.pop("DJANGO_SECRET_KEY"))
    env["DJANGO_SECRET_KEY_FILE"] = str(secret_file)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_offline_commands_need_no_secrets(tmp_path: Path) -> None:
    env = _production_env(tmp_path)
    del env["DJANGO_SECRET_KEY"]
    del env["EVIDENCE_KEYS"]
    result = subprocess.run([sys.executable, "manage.py", "help", "audit_verify"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def _check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_refuses_the_local_tsa_unless_it_is_stated_as_accepted(tmp_path: Path) -> None:
    env = _production_env(tmp_path)
    del env["EXPORT_TSA_URL"]
    refused = _check_deploy(env)
    assert refused.returncode != 0 and "takedown.E002" in refused.stderr
    assert "EXPORT_TSA_LOCAL_ACCEPTED" in refused.stderr
    env["EXPORT_TSA_LOCAL_ACCEPTED"] = "true"
    accepted = _check_deploy(env)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
