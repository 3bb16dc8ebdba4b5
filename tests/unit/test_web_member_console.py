"""How the node serves the staff desk: staff.html and the member modules come from the console's fixed table;
the desk's policy adds only `worker-src 'self'` to the console's, and only the Argon2id worker's adds
'wasm-unsafe-eval' (Argon2id is WebAssembly, run off the page's thread); every other file keeps the console's;
the page runs no inline script; the vendored Argon2id and SecretBox are the bytes scripts/build-web pins."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from chainnode import console

ROOT = Path(__file__).resolve().parents[2]


async def test_the_staff_desk_is_served_with_the_console_policy_and_only_its_worker_compiles_webassembly() -> None:
    app = web.Application()
    console.add_routes(app)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        answer = await client.get("/console/staff.html")
        assert answer.status == 200 and answer.content_type == "text/html"
        policy = answer.headers["Content-Security-Policy"]
        assert policy == console.PAGE_POLICY + "; worker-src 'self'"
        assert "'unsafe-eval'" not in policy and "'unsafe-inline'" not in policy and "wasm" not in policy
        worker = await client.get("/console/js/member/argon2-worker.js")
        assert worker.status == 200 and worker.content_type == "text/javascript"
        assert worker.headers["Content-Security-Policy"] == console.PAGE_POLICY.replace(
            "script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'")
        for path in ("js/session.js", "js/staff.js", "js/staff-forms.js", "js/member/codec.js", "js/member/keyfile.js",
                     "js/member/tx.js", "js/member/read-auth.js", "js/member/panel.js", "js/member/texts.js",
                     "js/member/ed25519.js", "css/member.css", "vendor/hash-wasm-argon2.js", "vendor/tweetnacl.js"):
            answer = await client.get(f"/console/{path}")
            assert answer.status == 200, path
            assert answer.headers["Content-Security-Policy"] == console.PAGE_POLICY, path
        # the explorer opens key files too (its transaction detail is a signed read); the certificate check does not
        assert (await client.get("/console/")).headers["Content-Security-Policy"] == console.KEY_PAGE_POLICY
        assert "wasm" not in (await client.get("/console/verify.html")).headers["Content-Security-Policy"]
    finally:
        await client.close()


def test_the_staff_desk_has_no_inline_script_or_style() -> None:
    page = (console.WEB_DIR / "staff.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert scripts and all('src="' in attributes and not body.strip() for attributes, body in scripts)
    assert "<style" not in page and " style=" not in page and not re.search(r"<[^>]+\son[a-z]+=", page)
    for module in (console.WEB_DIR / "js").rglob("*.js"):
        text = module.read_text(encoding="utf-8")
        assert "eval(" not in text and "new Function" not in text and "innerHTML" not in text, module


def test_the_vendored_libraries_are_the_pinned_ones() -> None:
    build = (ROOT / "scripts" / "build-web").read_text(encoding="utf-8")
    for variable, file in (("HASHWASM_SHA256", "hash-wasm-argon2.js"), ("TWEETNACL_SHA256", "tweetnacl.js")):
        match = re.search(rf'^{variable}="([0-9a-f]{{64}})"$', build, re.M)
        assert match, variable
        assert hashlib.sha256((console.WEB_DIR / "vendor" / file).read_bytes()).hexdigest() == match.group(1)
    for licence in ("hash-wasm.LICENSE.txt", "tweetnacl.LICENSE.txt"):
        assert (console.WEB_DIR / "vendor" / licence).stat().st_size > 100
