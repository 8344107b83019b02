"""The production configuration passes Django's deployment checks with zero warnings."""

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
            # Who removal requests name as the person's agent: real values, or check --deploy refuses to pass.
            "REMEDIES_OPERATOR_NAME": "Example Takedown Foundation",
            "REMEDIES_OPERATOR_ADDRESS": "1 Example Street, 10115 Berlin, Germany",
            "REMEDIES_OPERATOR_EMAIL": "requests@takedown.example.org",
            "SITE_URL": "https://takedown.example.org",
        }
    )
    return env


def _check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


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


@pytest.mark.parametrize(("variable", "value", "code"), [
    ("REMEDIES_OPERATOR_NAME", None, "takedown.E010"),
    ("REMEDIES_OPERATOR_NAME", "Takedown operator", "takedown.E010"),
    ("REMEDIES_OPERATOR_ADDRESS", None, "takedown.E011"),
    ("REMEDIES_OPERATOR_ADDRESS", "   ", "takedown.E011"),
    ("REMEDIES_OPERATOR_EMAIL", None, "takedown.E012"),  # falls back to DEFAULT_FROM_EMAIL, takedown@localhost
    ("REMEDIES_OPERATOR_EMAIL", "ops@127.0.0.1", "takedown.E012"),
    ("SITE_URL", None, "takedown.E013"),  # the default, http://127.0.0.1:8000
    ("SITE_URL", "http://localhost:8000", "takedown.E013"),
    ("SITE_URL", "https://10.0.0.5", "takedown.E013"),
])
def test_check_deploy_refuses_operator_placeholders(tmp_path: Path, variable: str, value: str | None,
                                                     code: str) -> None:
    env = _production_env(tmp_path)
    if value is None:
        del env[variable]
    else:
        env[variable] = value
    result = _check_deploy(env)
    # An Error, so check --deploy fails whatever the fail level.
    assert result.returncode != 0
    assert "ERRORS:" in result.stderr and code in result.stderr, result.stderr
