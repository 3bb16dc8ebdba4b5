// Chinese and English texts of the member key panel and the staff pages, kept beside the console's own texts
// (i18n.js) and following its language switch. Elements carry data-mt="key" (text), data-mt-placeholder or
// data-mt-aria (attributes).

import { getLang } from "../i18n.js";
import { DESK_TEXTS } from "./desk-texts.js";
import { CODE_TEXTS } from "./code-texts.js";

const TEXTS = {
  zh: {
    nav_staff: "办事窗口", staff_title: "办事窗口",
    staff_intro: "以您的成员密钥在本浏览器内签名：交易在此构造并签名，只有签好的字节发给节点；密钥只保存在本页内存中，关闭或刷新页面即失效。",
    staff_need_key: "请先在右上角载入成员密钥，才能签名提交或查看本部门的办件。",
    member_key: "成员密钥", member_load: "载入密钥文件", member_choose: "选择密钥文件",
    member_passphrase: "密钥口令", member_open: "打开", member_cancel: "取消", member_unload: "卸载密钥",
    member_loading: "正在打开密钥（Argon2id 计算中）…", member_encrypted: "此密钥文件已加密，请输入口令。",
    member_none: "未载入", member_unregistered: "此密钥未在名册中登记（或已注销）：节点将拒绝其签名",
    member_remembered: "本标签页曾载入密钥 {label}（{key}）；请重新选择密钥文件。",
    member_roles: "角色", member_department: "部门", member_key_short: "公钥",
    "err_key_file_malformed": "不是有效的密钥文件", "err_key_file_kind": "不是成员签名密钥",
    "err_key_passphrase_wrong": "口令错误（或文件已被改动）", "err_key_passphrase_unusable": "口令无效",
    "err_no_webcrypto": "本浏览器不支持所需的密码算法", "err_key_kdf_failed": "Argon2id 计算失败",
    "err_no_member_key": "请先载入成员密钥", "err_node_unreachable": "无法连接节点",
    task_file: "受理办件", task_attest: "登记材料", task_decide: "办结决定", task_issue: "签发证照", task_status: "证照状态变更",
    task_cases: "本部门办件",
    f_item_code: "事项编码", f_holder_ref: "申请人（持有人）引用，64 位十六进制", f_materials: "引用材料编号（每行一个，32 位十六进制）",
    f_note: "备注（可选）", f_material_type: "材料类型编码", f_content_hash: "内容哈希（64 位十六进制），或选择文件计算",
    f_content_file: "选择文件计算哈希", f_form: "形式", form_original: "原件", form_copy: "复印件",
    f_valid_from: "生效日期（可选，UTC）", f_valid_until: "有效期至（可选，UTC）", f_case_id: "办件编号（32 位十六进制）",
    f_decision: "决定", decision_approve: "准予", decision_deny: "不予", f_reason: "理由",
    f_cert_content_hash: "证照内容哈希（可选：准予时一并签发证照）", f_cert_type: "证照类型编码",
    f_cert_materials: "依据材料编号（可选，每行一个）", f_cert_name: "证照名称或持有人名称（可选）",
    f_cert_id: "证照编号（32 位十六进制）", f_action: "操作", action_suspend: "暂停", action_reinstate: "恢复", action_revoke: "吊销（不可撤回）",
    sign_submit: "签名并提交", signing: "正在签名提交…",
    v_required: "必填", v_code: "应为 1–64 位字母、数字、_ . -", v_hex64: "应为 64 位十六进制", v_hex32: "应为 32 位十六进制",
    v_text: "应为 1–{max} 个字符", v_list: "至多 {max} 个，且不得重复", v_date: "日期无效", v_window: "有效期至应晚于生效日期",
    r_tx: "交易编号", r_waiting: "已提交，等待出块确认…", r_committed_ok: "已上链，执行成功", r_committed_refused: "已上链，但合约拒绝",
    r_refused: "节点拒绝受理", r_rejected: "交易被丢弃", r_pending: "仍在等待确认（可稍后在区块浏览中查看）",
    r_code: "结果代码", r_message: "说明", r_height: "区块高度", r_records: "相关记录", r_open_case: "打开办件", r_error: "错误",
    cases_department: "部门", cases_load: "查看办件列表", case_open: "打开办件", cases_empty: "没有办件。",
    col_case: "办件编号", col_item: "事项", col_status: "状态", col_officer: "首问负责人", col_deadline: "期限", col_days_left: "剩余工作日",
    requires_member_key: "需要成员密钥：此记录只答复由已登记成员签名的请求。",
    not_authorised_read: "无权查看：{message}",
    case_detail: "办件详情", overdue: "已超期", yes: "是", no: "否",
    case_case_id: "办件编号", case_item_code: "事项编码", case_department: "承办部门", case_status: "状态",
    case_officer_name: "首问负责人", case_holder_ref: "持有人引用", case_filed_height: "受理区块高度",
    case_deadline_date: "承诺期限", case_legal_deadline_date: "法定期限", case_working_days_left: "剩余工作日",
    case_overdue: "是否超期", case_decision: "决定", case_decision_reason: "决定理由", case_time: "截至区块时间",
  },
  en: {
    nav_staff: "Staff desk", staff_title: "Staff desk",
    staff_intro: "Signed in this browser with your member key: each transaction is built and signed here and the node gets "
      + "only its signed bytes; the key is kept in this page's memory only and is gone when the page is closed or reloaded.",
    staff_need_key: "Load your member key (top right) to sign, or to open your department's cases.",
    member_key: "Member key", member_load: "Load key file", member_choose: "Choose key file",
    member_passphrase: "Passphrase", member_open: "Open", member_cancel: "Cancel", member_unload: "Unload key",
    member_loading: "Opening the key (Argon2id)…", member_encrypted: "This key file is encrypted: type its passphrase.",
    member_none: "none loaded", member_unregistered: "this key is not on the roster (or was revoked): the node will refuse what it signs",
    member_remembered: "A key was loaded in this tab before: {label} ({key}); choose its file again.",
    member_roles: "Roles", member_department: "Department", member_key_short: "Key",
    "err_key_file_malformed": "Not a valid key file", "err_key_file_kind": "Not a member's signing key",
    "err_key_passphrase_wrong": "Wrong passphrase (or the file was altered)", "err_key_passphrase_unusable": "Unusable passphrase",
    "err_no_webcrypto": "This browser lacks the cryptography needed", "err_key_kdf_failed": "Argon2id failed",
    "err_no_member_key": "Load a member key first", "err_node_unreachable": "The node cannot be reached",
    task_file: "File a case", task_attest: "Attest a material", task_decide: "Decide a case", task_issue: "Issue a certificate",
    task_status: "Certificate status", task_cases: "Department cases",
    f_item_code: "Item code", f_holder_ref: "Holder reference (64 hex digits)", f_materials: "Material IDs cited (one per line, 32 hex digits)",
    f_note: "Note (optional)", f_material_type: "Material type code", f_content_hash: "Content hash (64 hex digits), or pick the file",
    f_content_file: "Hash a file", f_form: "Form", form_original: "Original", form_copy: "Copy",
    f_valid_from: "Valid from (optional, UTC)", f_valid_until: "Valid until (optional, UTC)", f_case_id: "Case ID (32 hex digits)",
    f_decision: "Decision", decision_approve: "Approve", decision_deny: "Deny", f_reason: "Reason",
    f_cert_content_hash: "Certificate content hash (optional: issue the certificate with the approval)", f_cert_type: "Certificate type code",
    f_cert_materials: "Material IDs it rests on (optional, one per line)", f_cert_name: "Name on the certificate (optional)",
    f_cert_id: "Certificate ID (32 hex digits)", f_action: "Action", action_suspend: "Suspend", action_reinstate: "Reinstate",
    action_revoke: "Revoke (final)",
    sign_submit: "Sign and submit", signing: "Signing and submitting…",
    v_required: "required", v_code: "1-64 letters, digits, _ . -", v_hex64: "64 hex digits", v_hex32: "32 hex digits",
    v_text: "1 to {max} characters", v_list: "at most {max}, none twice", v_date: "not a date", v_window: "must be after valid from",
    r_tx: "Transaction ID", r_waiting: "Submitted; waiting for the commit…", r_committed_ok: "Committed: done",
    r_committed_refused: "Committed, but the contract refused it", r_refused: "The node refused it", r_rejected: "Dropped by the node",
    r_pending: "Still waiting for the commit (see the explorer later)",
    r_code: "Result code", r_message: "Message", r_height: "Block height", r_records: "Records", r_open_case: "Open case", r_error: "Error",
    cases_department: "Department", cases_load: "List cases", case_open: "Open case", cases_empty: "No cases.",
    col_case: "Case ID", col_item: "Item", col_status: "Status", col_officer: "First-contact officer", col_deadline: "Deadline",
    col_days_left: "Working days left",
    requires_member_key: "Requires a member key: this record is answered only to a request signed by a registered member.",
    not_authorised_read: "Not authorised: {message}",
    case_detail: "Case", overdue: "Overdue", yes: "yes", no: "no",
    case_case_id: "Case ID", case_item_code: "Item", case_department: "Department", case_status: "Status",
    case_officer_name: "First-contact officer", case_holder_ref: "Holder reference", case_filed_height: "Filed at height",
    case_deadline_date: "Promised deadline", case_legal_deadline_date: "Legal deadline",
    case_working_days_left: "Working days left", case_overdue: "Overdue", case_decision: "Decision",
    case_decision_reason: "Reason of the decision", case_time: "As of block time",
  },
};

for (const lang of Object.keys(TEXTS)) Object.assign(TEXTS[lang], DESK_TEXTS[lang]);

function language() {
  return getLang() in TEXTS ? getLang() : "zh";
}

/** The sentence that explains result code `code` in the console's language, or null for a code it does not know. */
export function codeText(code) {
  return CODE_TEXTS[language()][code] ?? CODE_TEXTS.en[code] ?? null;
}

/** The text for `key` in the console's language, with {name} placeholders filled from `params`. */
export function mt(key, params = {}) {
  const text = TEXTS[language()][key] ?? TEXTS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

export function applyMemberTexts(root = document) {
  for (const node of root.querySelectorAll("[data-mt]")) node.textContent = mt(node.dataset.mt);
  for (const node of root.querySelectorAll("[data-mt-placeholder]")) node.setAttribute("placeholder", mt(node.dataset.mtPlaceholder));
  for (const node of root.querySelectorAll("[data-mt-aria]")) node.setAttribute("aria-label", mt(node.dataset.mtAria));
}

/** A KeyError's (or another error's) text for the user: the translated kind, then the detail. */
export function errorText(error) {
  const code = error?.code;
  const kind = typeof code === "string" && mt(`err_${code}`) !== `err_${code}` ? mt(`err_${code}`) : null;
  const detail = String(error?.message ?? error);
  // These say all there is to say; the others keep the detail (which field, which limit).
  if (kind && ["key_passphrase_wrong", "no_member_key"].includes(code)) return kind;
  return kind ? `${kind}: ${detail}` : detail;
}
