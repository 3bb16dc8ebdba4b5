"""A node process whose keys are encrypted: it starts with the passphrase from a file descriptor or a systemd
credential, an officer signs with an encrypted key through the CLI, and a wrong passphrase stops the start
with one error line, exit 2, no traceback and no secret in the output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from chainnode import crypto, keyfile
from chainnode.home import CreatedHome, init_home
from tests.nodeproc import free_port, wait_ready

CLI = [sys.executable, "-m", "chainnode.cli"]
FAST = crypto.KdfLimits(opslimit=1, memlimit=8192)
PASSPHRASE = "department key passphrase"


def clean_env(**extra: str) -> dict[str, str]:
    drop = {keyfile.PASSPHRASE_ENV, keyfile.NEW_PASSPHRASE_ENV, "CREDENTIALS_DIRECTORY", "CHAINNODE_NODE"}
    return {**{k: v for k, v in os.environ.items() if k not in drop}, **extra}


def encrypted_home(tmp_path: Path) -> CreatedHome:
    _, created = init_home(tmp_path / "home", chain_id="keys", department="PSB", name="Police",
                           api_port=free_port(), p2p_port=free_port())
    source = keyfile.PassphraseSource(environ={keyfile.PASSPHRASE_ENV: PASSPHRASE})
    for path in (created.node_key, created.officer_key, created.home / "keys" / "encryption.key"):
        keyfile.encrypt_key_file(path, source, FAST)
    return created


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def test_a_node_with_encrypted_keys_starts_with_the_passphrase_on_a_file_descriptor(tmp_path: Path) -> None:
    created = encrypted_home(tmp_path)
    log = tmp_path / "node.log"
    read_end, write_end = os.pipe()
    os.write(write_end, PASSPHRASE.encode() + b"\n")
    os.close(write_end)
    with log.open("ab") as handle:
        process = subprocess.Popen([*CLI, "start", "--home", str(created.home), "--passphrase-fd", str(read_end)],
                                   stdout=handle, stderr=subprocess.STDOUT, env=clean_env(), pass_fds=(read_end,))
    os.close(read_end)
    try:
        wait_ready(created.api_url, process, log=log)
        document = tmp_path / "notice.txt"
        document.write_text("signed with an encrypted officer key\n")
        anchored = subprocess.run(
            [*CLI, "anchor", "put", str(document), "--key", str(created.officer_key), "--wait",
             "--node", created.api_url], capture_output=True, text=True, timeout=60, check=False,
            env=clean_env(**{keyfile.PASSPHRASE_ENV: PASSPHRASE}))
        assert anchored.returncode == 0, anchored.stderr
    finally:
        stop(process)
    text = log.read_text()
    assert "is not encrypted" not in text and PASSPHRASE not in text


def test_a_node_starts_with_the_passphrase_from_a_systemd_credential(tmp_path: Path) -> None:
    created = encrypted_home(tmp_path)
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o700)
    (credentials / keyfile.CREDENTIAL_NAME).write_text(PASSPHRASE)
    log = tmp_path / "node.log"
    with log.open("ab") as handle:
        process = subprocess.Popen([*CLI, "start", "--home", str(created.home)], stdout=handle,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=clean_env(CREDENTIALS_DIRECTORY=str(credentials)))
    try:
        wait_ready(created.api_url, process, log=log)
    finally:
        stop(process)


@pytest.mark.parametrize("passphrase", ["not the passphrase", None], ids=["wrong", "missing"])
def test_a_wrong_or_missing_passphrase_stops_the_start_with_one_error_line(tmp_path: Path,
                                                                           passphrase: str | None) -> None:
    created = encrypted_home(tmp_path)
    env = clean_env() if passphrase is None else clean_env(**{keyfile.PASSPHRASE_ENV: passphrase})
    result = subprocess.run([*CLI, "start", "--home", str(created.home)], capture_output=True, text=True,
                            timeout=60, check=False, env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    code = "key_passphrase_wrong" if passphrase else "key_passphrase_unusable"
    assert errors[0].startswith(f"error: {code}: ") and str(created.node_key) in errors[0]
    assert PASSPHRASE not in result.stderr and (passphrase is None or passphrase not in result.stderr)
