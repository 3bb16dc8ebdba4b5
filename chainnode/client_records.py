"""Client methods for the contracts: read the records (governance, items, materials, cases, certificates) and
call any contract method as a signed transaction.

`RecordQueries` is shared by the asyncio and the blocking client: each method names a route of
`chainnode.api_records`, and the client's `_read` performs it (returning a coroutine in `AsyncClient`, a
dict in `Client`). Every query takes `height` to answer as of an older block.

`client.contracts.cases.file(key, item_code="...", holder_ref=..., materials=[...])` signs and submits a
call, waits for its block and returns the committed status; a call the contract refuses raises
`ContractRefused` with the contract's code. The method names come from the contract registry, so a typo
fails at once with the list of known methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from chainnode import crypto
from chainnode.codec import Value
from chainnode.errors import ChainError, UnknownContract, UnknownMethod
from contracts.registry import REGISTRY

R = TypeVar("R")


class ContractRefused(ChainError):
    """A call was committed but the contract refused it; `code` is the contract's code (recorded on chain)."""

    code = "contract_refused"

    def __init__(self, message: str, *, code: str, tx_id: str, height: int | None) -> None:
        super().__init__(message)
        self.code = code  # type: ignore[misc]
        self.tx_id = tx_id
        self.height = height


def _hex(value: str | bytes) -> str:
    return value.hex() if isinstance(value, bytes) else value


class RecordQueries(Generic[R]):
    """The record routes; `_read(path, params)` is supplied by the client class."""

    def _read(self, path: str, params: dict[str, str]) -> R:
        raise NotImplementedError

    def _get(self, path: str, height: int | None = None, **params: object) -> R:
        query = {k: str(v) for k, v in params.items() if v is not None}
        if height is not None:
            query["height"] = str(height)
        return self._read(path, query)

    def departments(self, height: int | None = None) -> R:
        return self._get("/v1/departments", height)

    def roster(self, department: str, height: int | None = None) -> R:
        return self._get(f"/v1/departments/{quote(department)}/members", height)

    def member(self, public_key: str | bytes, height: int | None = None) -> R:
        return self._get(f"/v1/members/{_hex(public_key)}", height)

    def proposals(self, height: int | None = None, limit: int = 100) -> R:
        return self._get("/v1/proposals", height, limit=limit)

    def proposal(self, proposal_id: int, height: int | None = None) -> R:
        return self._get(f"/v1/proposals/{int(proposal_id)}", height)

    def registries(self, height: int | None = None) -> R:
        return self._get("/v1/registries", height)

    def calendar(self, year: int, height: int | None = None) -> R:
        return self._get(f"/v1/calendar/{int(year)}", height)

    def items(self, department: str | None = None, height: int | None = None) -> R:
        return self._get("/v1/items", height, department=department)

    def item(self, code: str, version: int | None = None, height: int | None = None) -> R:
        return self._get(f"/v1/items/{quote(code)}", height, version=version)

    def material(self, material_id: str, height: int | None = None) -> R:
        return self._get(f"/v1/materials/{quote(material_id)}", height)

    def holder(self, holder_ref: str | bytes, height: int | None = None) -> R:
        return self._get(f"/v1/holders/{_hex(holder_ref)}", height)

    def cases(self, department: str, status: str | None = None, height: int | None = None, limit: int = 100) -> R:
        return self._get("/v1/cases", height, department=department, status=status, limit=limit)

    def case(self, case_id: str, height: int | None = None) -> R:
        return self._get(f"/v1/cases/{quote(case_id)}", height)

    def supervision(self, department: str, within_days: int = 3, height: int | None = None,
                    from_height: int | None = None, *, from_date: str | None = None, to_date: str | None = None,
                    per_officer: bool = False) -> R:
        """Deadline supervision of the cases filed from `from_height` (default: all) to `height` (the head), or
        from `from_date` to `to_date` (YYYY-MM-DD in the network's time zone); `per_officer` adds time per
        step and per officer."""
        return self._get(f"/v1/supervision/{quote(department)}", height, within_days=within_days,
                         from_height=from_height, from_date=from_date, to_date=to_date,
                         per_officer=1 if per_officer else None)

    def case_proof(self, case_id: str, height: int | None = None, trusted_height: int | None = None) -> R:
        """The case record's state proof (`proof`, one bundle in base64) for chainnode.case_verify, from the
        verifier's trust at `trusted_height` (default: genesis)."""
        return self._get(f"/v1/cases/{quote(case_id)}/proof", height, trusted_height=trusted_height)

    def cert_proof(self, cert_id: str, height: int | None = None) -> R:
        """The certificate's bundle (`proof`, base64): its and its officer's records, for chainnode.cert_verify."""
        return self._get(f"/v1/certs/{quote(cert_id)}/proof", height)

    def certificate(self, cert_id: str, version: int | None = None, height: int | None = None) -> R:
        return self._get(f"/v1/certs/{quote(cert_id)}", height, version=version)

    def authority_report(self, from_height: int | None = None, to_height: int | None = None) -> R:
        """Committed actions whose signer lacked the role or department they needed (at most 10,000 blocks)."""
        return self._read("/v1/reports/authority", {k: str(v) for k, v in (("from_height", from_height),
                                                                            ("to_height", to_height)) if v is not None})

    def contract_methods(self) -> R:
        return self._read("/v1/contracts", {})


Caller = Callable[[crypto.PrivateKey, str, str, Value], Any]


class _Contract:
    def __init__(self, name: str, caller: Caller) -> None:
        self._name = name
        self._caller = caller

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)
        known = REGISTRY[self._name]
        if method not in known:
            raise UnknownMethod(
                f"contract {self._name!r} has no method {method!r}; known: {', '.join(sorted(known))}",
                field="method",
            )

        def call(key: crypto.PrivateKey, **args: Value) -> Any:
            return self._caller(key, self._name, method, {k: v for k, v in args.items() if v is not None})

        call.__doc__ = known[method].description
        return call


class Contracts:
    """`contracts.<contract>.<method>(key, **args)`: one attribute per registered contract method."""

    def __init__(self, caller: Caller) -> None:
        self._caller = caller

    def __getattr__(self, contract: str) -> _Contract:
        if contract.startswith("_"):
            raise AttributeError(contract)
        if contract not in REGISTRY:
            raise UnknownContract(f"unknown contract {contract!r}; known: {', '.join(sorted(REGISTRY))}",
                                  field="contract")
        return _Contract(contract, self._caller)


def check_committed(status: dict[str, Any], tx_id: str) -> dict[str, Any]:
    """Raise ContractRefused (or the rejection) unless the committed call succeeded; return the status."""
    if status.get("status") == "rejected":
        raise ContractRefused(str(status.get("message", "rejected")), code=str(status.get("code", "rejected")),
                              tx_id=tx_id, height=None)
    result = status.get("result") or {}
    if result.get("code") != "ok":
        raise ContractRefused(
            f"{result.get('code')}: {result.get('message')}", code=str(result.get("code")), tx_id=tx_id,
            height=status.get("height"),
        )
    return status
