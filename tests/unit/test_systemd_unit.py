"""contrib/systemd/chainnode@.service agrees with the code: the credential name the node reads, the exit status
of a key or config problem (not restarted), and the hardening the operations guide promises."""

from __future__ import annotations

from pathlib import Path

from chainnode import keyfile

UNIT = Path(__file__).resolve().parents[2] / "contrib" / "systemd" / "chainnode@.service"


def settings() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            name, _, value = line.partition("=")
            found.setdefault(name, []).append(value)
    return found


def test_the_unit_hands_the_passphrase_over_as_the_credential_the_node_reads() -> None:
    (credential,) = settings()["LoadCredential"]
    assert credential.startswith(keyfile.CREDENTIAL_NAME + ":")
    assert keyfile.PASSPHRASE_ENV not in UNIT.read_text()  # never in the environment


def test_the_unit_restarts_on_failure_but_not_on_a_local_problem() -> None:
    unit = settings()
    assert unit["Restart"] == ["on-failure"] and unit["RestartPreventExitStatus"] == ["2"]
    assert unit["ExecStart"][0].endswith("chainnode start --home /var/lib/chainnode/%i")


def test_the_unit_is_hardened() -> None:
    unit = settings()
    for name, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ReadWritePaths": "/var/lib/chainnode/%i",
                        "ProtectHome": "yes", "PrivateTmp": "yes", "CapabilityBoundingSet": ""}.items():
        assert unit[name] == [value], name
