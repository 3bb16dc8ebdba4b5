// Chinese and English texts of the console, and the language switch (the choice is remembered in this
// browser). Elements carry data-i18n="key" (text) or data-i18n-placeholder / data-i18n-aria (attributes).

const TEXTS = {
  zh: {
    title_console: "政务链 控制台",
    nav_explorer: "区块浏览", nav_verify: "证照核验", lang_switch: "English", lang_switch_label: "切换到英文",
    skip_to_main: "跳到正文",
    // verify page
    verify_title: "证照核验", verify_intro: "核验在本浏览器内完成：只信任您提供的创世文件（genesis.json），"
      + "用其中的验证节点公钥检查区块提交签名与状态证明，不信任任何单个节点。",
    genesis_heading: "1. 网络创世文件", genesis_none: "尚未载入创世文件。", genesis_file: "选择 genesis.json",
    genesis_pin: "在本浏览器中固定（下次自动使用）", genesis_forget: "取消固定", genesis_loaded: "已载入",
    genesis_pinned: "已固定", genesis_chain: "链标识", genesis_validators: "创世验证节点",
    genesis_fingerprint: "文件 SHA-256",
    proof_heading: "2. 证明", proof_by_id: "按证照编号从本节点获取证明", cert_id: "证照编号（32 位十六进制）",
    fetch_proof: "获取证明", proof_file: "证明文件（cert verify --proof-out）", proof_qr: "二维码图片（cert verify --qr）",
    proof_drop: "也可将证明文件或二维码图片拖放到此处", proof_loaded: "已载入证明", proof_bytes: "字节",
    proof_standalone: "离线单文件版：请上传证明文件或二维码图片（本页不连接任何节点）。",
    file_heading: "3. 证照文件（可选）", file_label: "证照原件，用于比对内容哈希", file_hash: "文件 SHA-256",
    verify_button: "核验", verifying: "正在核验…", clear: "清除",
    // verdicts
    verdict_VALID: "有效", "verdict_NOT AUTHORISED": "签发人无权签发", "verdict_SUPERSEDED VERSION": "已被新版本取代",
    "verdict_CONTENT DIFFERS": "文件内容不符", verdict_REVOKED: "已吊销", verdict_SUSPENDED: "已暂停",
    verdict_EXPIRED: "已过期", "verdict_NOT YET VALID": "尚未生效", "verdict_NOT FOUND": "不存在此证照",
    "verdict_INVALID PROOF": "证明无效",
    verdict_ok_note: "证明已通过核验：签名、区块与状态路径均与创世文件一致。",
    verdict_bad_note: "证明已通过核验，但该证照当前不可用。",
    verdict_invalid_note: "证明未通过核验，不能据此相信任何内容。",
    stage_format: "证明格式检查失败", stage_links: "区块与提交签名检查失败", stage_state: "状态证明检查失败",
    stage_record: "记录检查失败", stage_genesis: "创世文件无效", stage_crypto: "浏览器不支持所需的密码算法",
    stage_input: "输入无效",
    // details
    d_cert_id: "证照编号", d_cert_type: "证照类型", d_issuer: "签发部门", d_officer: "签发人",
    d_officer_roles: "签发时的角色", d_issued: "签发", d_version: "版本", d_validity: "有效期",
    d_status: "状态", d_content: "内容哈希", d_proof: "证明", d_reasons: "原因", d_reason: "原因",
    at_height: "区块高度", no_end: "长期有效", content_match: "与所给文件一致", content_differs: "与所给文件不一致",
    content_superseded: "所给文件是已被取代的第 {n} 版", content_no_file: "未提供文件",
    proof_summary: "{bytes} 字节，{links} 个区块，由 {signers} 签名，区块哈希 {hash}",
    status_valid: "有效", status_suspended: "已暂停", status_revoked: "已吊销", status_expired: "已过期",
    status_not_yet_valid: "尚未生效",
    reason_revoked: "吊销原因", reason_suspended: "暂停原因", reason_other_department: "签发人不属于签发部门",
    reason_not_issuer: "签发人在签发高度不具备 issuer 角色", reason_superseded: "文件为旧版本",
    timing: "核验耗时 {ms} 毫秒",
    err_no_genesis: "请先载入创世文件。", err_no_proof: "请先获取或上传证明。", err_cert_id: "证照编号应为 32 位小写十六进制。",
    err_too_large: "文件过大。", err_qr: "未能从图片中识别二维码：", err_fetch: "获取证明失败：",
    err_id_mismatch: "证明中的证照编号与所填编号不一致。",
    // explorer
    explorer_title: "区块浏览", chain_status: "链状态", head_height: "最新高度", chain_id: "链标识",
    latest_blocks: "最新区块", latest_txs: "最新交易", live: "实时", offline: "未连接",
    col_height: "高度", col_time: "时间", col_time_utc: "时间 (UTC)", col_txs: "交易数", col_hash: "哈希", col_tx: "交易", col_result: "结果",
    col_block: "区块", validators: "验证节点", departments: "部门", col_department: "部门", col_key: "公钥",
    col_power: "投票权", col_name: "名称", col_code: "代码", col_active: "状态", active: "在网", inactive: "已退出",
    members: "成员及角色", show_members: "查看成员", col_roles: "角色", col_member: "成员",
    block_detail: "区块详情", header: "区块头", commit: "提交签名", signed_by: "签名部门", proposer: "出块节点",
    prev_hash: "上一区块哈希", state_root: "状态根", tx_root: "交易根", signatures: "签名",
    needs_member_key: "需要成员密钥（签名读取）", no_txs: "暂无交易", back: "返回",
    not_signed: "未签名", signed: "已签名", close: "关闭", round: "轮次", loading: "正在载入…",
    load_failed: "载入失败：", block_txs: "区块内交易",
  },
  en: {
    title_console: "Ledger console",
    nav_explorer: "Explorer", nav_verify: "Certificate check", lang_switch: "中文", lang_switch_label: "Switch to Chinese",
    skip_to_main: "Skip to content",
    verify_title: "Certificate check", verify_intro: "The check runs in this browser: it trusts only the genesis file "
      + "you give (genesis.json) and checks the block commit signatures and state proofs with its validators' keys. "
      + "No single node is trusted.",
    genesis_heading: "1. Network genesis", genesis_none: "No genesis file loaded yet.", genesis_file: "Choose genesis.json",
    genesis_pin: "Pin it in this browser (used next time)", genesis_forget: "Unpin", genesis_loaded: "Loaded",
    genesis_pinned: "Pinned", genesis_chain: "Chain", genesis_validators: "Genesis validators",
    genesis_fingerprint: "File SHA-256",
    proof_heading: "2. Proof", proof_by_id: "Fetch the proof from this node by certificate ID",
    cert_id: "Certificate ID (32 hex digits)", fetch_proof: "Fetch proof",
    proof_file: "Proof file (cert verify --proof-out)", proof_qr: "QR code image (cert verify --qr)",
    proof_drop: "or drop a proof file or a QR image here", proof_loaded: "Proof loaded", proof_bytes: "bytes",
    proof_standalone: "Offline single-file page: upload a proof file or a QR image (this page contacts no node).",
    file_heading: "3. Certificate file (optional)", file_label: "The certificate's file, to compare its content hash",
    file_hash: "File SHA-256",
    verify_button: "Verify", verifying: "Verifying…", clear: "Clear",
    verdict_VALID: "Valid", "verdict_NOT AUTHORISED": "Issuer not authorised",
    "verdict_SUPERSEDED VERSION": "Superseded version", "verdict_CONTENT DIFFERS": "Content differs",
    verdict_REVOKED: "Revoked", verdict_SUSPENDED: "Suspended", verdict_EXPIRED: "Expired",
    "verdict_NOT YET VALID": "Not yet valid", "verdict_NOT FOUND": "No such certificate",
    "verdict_INVALID PROOF": "Invalid proof",
    verdict_ok_note: "The proof verifies: signatures, blocks and state paths agree with the genesis file.",
    verdict_bad_note: "The proof verifies, but the certificate is not usable.",
    verdict_invalid_note: "The proof does not verify: nothing in it can be trusted.",
    stage_format: "Proof format check failed", stage_links: "Block and commit check failed",
    stage_state: "State proof check failed", stage_record: "Record check failed", stage_genesis: "Invalid genesis file",
    stage_crypto: "This browser lacks the cryptography needed", stage_input: "Invalid input",
    d_cert_id: "Certificate ID", d_cert_type: "Type", d_issuer: "Issuing department", d_officer: "Issuing officer",
    d_officer_roles: "Roles at issue", d_issued: "Issued", d_version: "Version", d_validity: "Validity",
    d_status: "Status", d_content: "Content hash", d_proof: "Proof", d_reasons: "Reasons", d_reason: "Reason",
    at_height: "height", no_end: "no end", content_match: "matches the file given",
    content_differs: "does NOT match the file given", content_superseded: "the file given is version {n}, superseded",
    content_no_file: "no file given",
    proof_summary: "{bytes} bytes, {links} block(s), signed by {signers}, block hash {hash}",
    status_valid: "valid", status_suspended: "suspended", status_revoked: "revoked", status_expired: "expired",
    status_not_yet_valid: "not yet valid",
    reason_revoked: "Revoked", reason_suspended: "Suspended", reason_other_department: "The officer is of another department",
    reason_not_issuer: "The officer did not hold the issuer role at the issue height",
    reason_superseded: "The file is an older version",
    timing: "verified in {ms} ms",
    err_no_genesis: "Load a genesis file first.", err_no_proof: "Fetch or upload a proof first.",
    err_cert_id: "A certificate ID is 32 lowercase hex digits.", err_too_large: "The file is too large.",
    err_qr: "No QR code could be read from the image: ", err_fetch: "Could not fetch the proof: ",
    err_id_mismatch: "The proof is for another certificate ID than the one entered.",
    explorer_title: "Explorer", chain_status: "Chain", head_height: "Head height", chain_id: "Chain ID",
    latest_blocks: "Latest blocks", latest_txs: "Latest transactions", live: "live", offline: "offline",
    col_height: "Height", col_time: "Time", col_time_utc: "Time (UTC)", col_txs: "Txs", col_hash: "Hash", col_tx: "Transaction",
    col_result: "Result", col_block: "Block", validators: "Validators", departments: "Departments",
    col_department: "Department", col_key: "Public key", col_power: "Power", col_name: "Name", col_code: "Code",
    col_active: "State", active: "active", inactive: "left", members: "Members and roles", show_members: "Members",
    col_roles: "Roles", col_member: "Member",
    block_detail: "Block", header: "Header", commit: "Commit signatures", signed_by: "Signed by",
    proposer: "Proposer", prev_hash: "Previous block", state_root: "State root", tx_root: "Tx root",
    signatures: "Signatures", needs_member_key: "requires a member key (signed read)", no_txs: "no transactions yet",
    back: "Back", not_signed: "did not sign", signed: "signed", close: "Close", round: "Round", loading: "Loading…",
    load_failed: "Could not load: ", block_txs: "Transactions in this block",
  },
};

const STORAGE_KEY = "chainnode.console.lang";

function stored() {
  try {
    return globalThis.localStorage?.getItem(STORAGE_KEY) ?? null;
  } catch {
    return null; // storage may be disabled (private mode, file:// in some browsers)
  }
}

let current = stored() ?? ((globalThis.navigator?.language ?? "zh").toLowerCase().startsWith("en") ? "en" : "zh");
if (!(current in TEXTS)) current = "zh";
const listeners = [];

export function getLang() {
  return current;
}

/** The text for `key` in the current language, with {name} placeholders filled from `params`. */
export function t(key, params = {}) {
  const text = TEXTS[current][key] ?? TEXTS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

export function applyTexts(root = document) {
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
    node.setAttribute("placeholder", t(node.dataset.i18nPlaceholder));
  }
  for (const node of root.querySelectorAll("[data-i18n-aria]")) node.setAttribute("aria-label", t(node.dataset.i18nAria));
  const title = document.querySelector("title[data-i18n-title]");
  if (title) document.title = `${t(title.dataset.i18nTitle)} · ${t("title_console")}`;
}

export function setLang(lang) {
  if (!(lang in TEXTS)) return;
  current = lang;
  try {
    globalThis.localStorage?.setItem(STORAGE_KEY, lang);
  } catch {
    // not remembered: the page still switches
  }
  applyTexts();
  for (const listener of listeners) listener(lang);
}

/** Wire the language button (id "lang-switch") and apply the texts; `onChange` re-renders dynamic parts. */
export function initLanguage(onChange) {
  if (onChange) listeners.push(onChange);
  const button = document.getElementById("lang-switch");
  if (button) button.addEventListener("click", () => setLang(current === "zh" ? "en" : "zh"));
  applyTexts();
}
