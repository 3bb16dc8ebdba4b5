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
    // explorer: a transaction, as of a height, older blocks
    tx_detail: "交易", member_detail: "成员", tx_id: "交易编号", tx_status: "状态", tx_index: "块内序号",
    tx_message: "结果说明", tx_call: "调用", tx_contract: "合约.方法", tx_signer: "签名人",
    tx_events: "事件", tx_no_events: "无事件", tx_arguments: "参数",
    tx_needs_key: "参数与事件需要成员密钥：请载入签名人所在部门工作人员或审计人员的密钥。",
    tx_wrong_key: "已载入的密钥无权读取：参数与事件只向签名人所在部门的工作人员和审计人员提供。",
    tx_not_in_proof: "节点给出的证明中没有这笔交易", tx_proof_too_large: "证明过大",
    load_failed_not_json: "节点的回答不是 JSON", more_items: "另有 {n} 项未显示",
    member_audit_link: "查看此密钥签名的全部交易（审计）",
    validators_at_height: "查看此高度的验证节点与部门",
    asof_heading: "按高度查看验证节点与部门", asof_label: "高度", asof_placeholder: "留空为最新",
    asof_show: "查看", asof_head: "最新", asof_invalid: "高度须为正整数",
    asof_out_of_range: "高度须在 1 到 {head} 之间",
    asof_validators_answered: "为第 {height} 块签名的验证节点（区块时间 {time}）",
    asof_departments_answered: "第 {height} 块之后的状态（区块时间 {time}）",
    asof_validators_next: "为下一块（第 {height} 块，尚未产生）签名的验证节点",
    asof_answered: "读取高度", older_blocks: "更早的区块", older_button: "更早的 20 个区块",
    older_none: "已到第 1 块", older_limit: "最多显示 {n} 个更早的区块",
    // audit timeline and supervision
    nav_audit: "审计", nav_supervision: "电子监察", nav_staff: "办事窗口", nav_documents: "收发文",
    audit_title: "审计", audit_intro: "按办件、证照、公文、部门等对象查看其全部上链事件（时间、签名人、角色、部门、结果）。"
      + "每条事件都在本浏览器内依据其历史页证明与创世文件核验，不信任提供数据的节点。",
    audit_source: "2. 审计对象", audit_entity: "对象（类型:编号）", audit_load: "从本节点载入",
    audit_entity_help: "例如 case:<编号>、cert:<编号>、document:<编号>、department:PSB、member:<公钥>、"
      + "material:<编号>、item:<代码>、signer:<公钥>。从节点读取需要审计员（或所属部门）的成员密钥；"
      + "也可载入 chainnode history --verify --export 导出的文件，无需节点。",
    audit_export_file: "载入导出文件（chainnode history --export）", audit_period: "3. 时间范围",
    from_date: "起始日期", to_date: "截止日期", audit_export_json: "导出 JSON 报告",
    audit_export_html: "导出可打印报告（HTML）", audit_print: "打印",
    err_entity: "对象应为 类型:编号，例如 case:0123…（小写类型，编号仅含字母、数字和 _ . : -）。",
    audit_from_node: "来自本节点", audit_from_file: "来自文件", audit_loaded_pages: "已载入 {pages} 页…",
    audit_no_events: "所选范围内没有事件", audit_all_verified: "全部 {n} 条事件已核验",
    audit_verified_note: "每条事件都是链 {chain} 上经创世验证节点签名确认的交易：位置、交易号、调用、签名人、时间和结果与证明一致。",
    audit_not_verified: "{n} 条事件中有 {bad} 条未通过核验", audit_unregistered: "未登记的密钥",
    not_proven_roster: "签名人的姓名、部门和角色是节点按该高度名册给出的说明，证明不覆盖（证照签发人的角色可用证照核验证明）。",
    not_proven_completeness: "证明不能说明节点没有遗漏事件：对象索引由节点自己维护。",
    audit_verified: "已核验", audit_unverified: "未通过", audit_check: "核验",
    needs_auditor_key: "需要审计员（或所属部门）的成员密钥", audit_zone: "日期按网络时区（{zone}）计算。",
    audit_counts: "显示 {shown} / {total} 条事件，{pages} 页", audit_timeline: "审计时间线",
    audit_truncated: "只载入了前 {pages} 页；请缩小范围。", col_call: "操作", col_outcome: "结果", col_signer: "签名人",
    audit_not_covered: "证明未覆盖的内容", audit_report_counts: "{n} 条事件中 {verified} 条已核验",
    sup_title: "电子监察", sup_intro: "按部门和时间段查看办件的在办、超期和临近期限情况、按期办结率、各环节用时和各经办人情况。"
      + "数据来自节点对链上状态的计算（需要审计员或该部门的成员密钥）。",
    sup_query: "查询条件", sup_granularity: "统计周期", sup_by_day: "按日", sup_by_week: "按周", sup_by_month: "按月",
    sup_within_days: "临近期限（工作日）", sup_load: "查询",
    sup_err_form: "请选择部门和日期，临近期限为 0 到 60 个工作日。", sup_err_order: "截止日期早于起始日期。",
    sup_err_periods: "周期太多（最多 {n} 个），请选择更长的统计周期。",
    sup_as_of: "统计在该时段内受理的办件，截至区块高度 {height}（自高度 {from}）。", sup_open: "在办",
    sup_overdue: "已超期", sup_due_soon: "{n} 个工作日内到期", sup_returned: "退回补正", sup_decided: "已办结",
    sup_decided_on_time: "按期办结", sup_rate: "按期办结率",
    sup_not_proven: "以上数字是节点根据其状态计算的结果，本页未对其进行证明核验；逐件核验请用审计时间线。",
    sup_rate_per_period: "各周期按期办结率", sup_rate_desc: "每个周期内受理并已办结的办件中按期办结的比例；无已办结办件的周期标为 –。",
    sup_period: "周期", sup_overdue_list: "超期办件", sup_due_soon_list: "{n} 个工作日内到期的办件", sup_none: "无",
    sup_case: "办件", sup_item: "事项", sup_officer: "经办人", sup_deadline: "期限", sup_days_left: "剩余工作日",
    sup_time_per_step: "各环节用时（中位数）", sup_step_desc: "每类环节距上一环节的用时中位数。", sup_step: "环节",
    sup_count: "次数", sup_median: "中位用时（工作日）", sup_median_duration: "中位用时", sup_seconds: "{n} 秒", sup_ms: "{n} 毫秒", sup_minutes: "{n} 分钟", sup_officers: "经办人",
    sup_cases: "办件数", sup_on_time: "按期", sup_steps: "环节数", sup_wd: "{n} 个工作日", sup_hours: "{n} 小时",
    step_file: "受理", step_resubmit: "补正后重新提交", step_request_correction: "要求补正", step_review: "审查",
    step_opinion: "会签意见", step_hand_over: "移交", step_decide: "办结",

    tx_proof_heading: "证明核验", tx_proof_verified: "已对照创世文件 {root}… 核验",
    tx_proof_failed: "未通过对照创世文件 {root}… 的核验", tx_proof_differs: "节点列出的 {what} 与证明不符",
    tx_proof_no_genesis: "未核验：本浏览器尚未固定创世文件。请在证照核验页选择并固定创世文件：",
    tx_proof_not_read: "未核验：未能读取证明。", tx_proof_time: "核验用时",

    search_label: "查找", search_placeholder: "区块高度、交易 ID、证照 ID、办件 ID 或成员公钥", search_go: "查找",
    search_invalid: "无法识别：请输入区块高度（数字）、交易 ID 或成员公钥（64 位十六进制）、证照或办件 ID（32 位十六进制）。",
    search_no_height: "该高度尚无区块。", search_not_found: "本节点没有这个交易 ID 或成员公钥。",

    trust_file: "信任文件（可选）", trust_forget: "移除信任文件",
    trust_none: "未加载信任文件：证明从创世开始核验。",
    trust_loaded: "信任文件：高度 {height}，区块 {hash}，验证者 {sets}。从该高度开始的证明以它为根核验，其余从创世核验；信任文件只保存在本页内存中。",
    trust_needs_genesis: "请先加载创世文件：信任文件要对照创世文件检查。", stage_trust: "信任文件",
    root_heading: "核验根", root_genesis: "创世文件 {hash}", root_trust: "高度 {height} 的信任文件（区块 {hash}）",
    root_held: "持有：创世文件 {genesis}；{trust}", root_no_trust: "无信任文件",

    camera_scan: "用摄像头扫描二维码", camera_stop: "停止扫描", camera_video: "摄像头画面",
    camera_starting: "正在打开摄像头…", camera_looking: "请将二维码对准摄像头，整个二维码需在画面内。",
    camera_stopped: "已停止扫描。", camera_read: "已从摄像头读取二维码（{n} 字节）。", camera_source: "摄像头扫描的二维码",
    camera_unavailable: "本页面无法使用摄像头（需要 https 或本机地址）。请改用二维码照片。",
    camera_no_camera: "未找到可用的摄像头，或摄像头无法打开。请改用二维码照片。",
    camera_refused: "摄像头权限被拒绝。可在浏览器设置中允许，或改用二维码照片。",

    clock_behind: "本机时钟比节点慢约 {s} 秒（约 {m} 分钟）：签名请求已按节点时间校正。请校准本机时钟。",
    clock_ahead: "本机时钟比节点快约 {s} 秒（约 {m} 分钟）：签名请求已按节点时间校正。请校准本机时钟。",
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
    tx_detail: "Transaction", member_detail: "Member", tx_id: "Transaction ID", tx_status: "Status",
    tx_index: "Index in block", tx_message: "Message", tx_call: "Call", tx_contract: "Contract.method",
    tx_signer: "Signer", tx_events: "Events", tx_no_events: "no events", tx_arguments: "Arguments",
    tx_needs_key: "The arguments and events require a member key: load a key of the signer's department's staff "
      + "or of an auditor.",
    tx_wrong_key: "The loaded key may not read them: the arguments and events are given to the signer's "
      + "department's staff and to auditors.",
    tx_not_in_proof: "the node's proof does not hold this transaction", tx_proof_too_large: "the proof is too large",
    load_failed_not_json: "the node's answer is not JSON", more_items: "{n} more not shown",
    member_audit_link: "Everything this key signed (audit timeline)",
    validators_at_height: "Validators and departments at this height",
    asof_heading: "Validators and departments as of a height", asof_label: "Height",
    asof_placeholder: "empty: the head", asof_show: "Show", asof_head: "Head",
    asof_invalid: "a height is a positive whole number", asof_out_of_range: "a height from 1 to {head}",
    asof_validators_answered: "The validators that sign block {height} (block time {time})",
    asof_departments_answered: "State after block {height} (block time {time})",
    asof_validators_next: "The validators that sign the next block, {height} (not yet made)",
    asof_answered: "Read at height", older_blocks: "Older blocks", older_button: "20 older blocks",
    older_none: "block 1 reached", older_limit: "at most {n} older blocks are shown",
    nav_audit: "Audit", nav_supervision: "Supervision", nav_staff: "Staff desk", nav_documents: "Documents",
    audit_title: "Audit timeline", audit_intro: "Every event of a case, certificate, document, department or other "
      + "record, in chain order, with time, signer, role, department and outcome. Each event is verified in this "
      + "browser from its history page's proof against the genesis file; the node that sent it is not trusted.",
    audit_source: "2. What to trace", audit_entity: "Entity (KIND:ID)", audit_load: "Load from this node",
    audit_entity_help: "e.g. case:<id>, cert:<id>, document:<id>, department:PSB, member:<key>, material:<id>, "
      + "item:<code>, signer:<key>. Reading from the node needs an auditor's (or the department's) member key; a "
      + "file written by chainnode history --verify --export needs no node.",
    audit_export_file: "Load an exported file (chainnode history --export)", audit_period: "3. Period",
    from_date: "From", to_date: "To", audit_export_json: "Export report (JSON)",
    audit_export_html: "Export printable report (HTML)", audit_print: "Print",
    err_entity: "An entity is KIND:ID, e.g. case:0123… (a lowercase kind; the ID of letters, digits and _ . : -).",
    audit_from_node: "from this node", audit_from_file: "from file", audit_loaded_pages: "{pages} page(s) loaded…",
    audit_no_events: "no events in the period shown", audit_all_verified: "All {n} events verified",
    audit_verified_note: "Each event is a transaction of chain {chain} committed by the genesis validators: its "
      + "position, ID, call, signer, time and outcome are the proven ones.",
    audit_not_verified: "{bad} of {n} events NOT verified", audit_unregistered: "unregistered key",
    not_proven_roster: "The signer's name, department and roles are the node's reading of the roster at that "
      + "height; the proof does not cover them (a certificate check proves its issuer's role).",
    not_proven_completeness: "The proof cannot show that the node left no event out: the entity index is the node's own.",
    audit_verified: "verified", audit_unverified: "not verified", audit_check: "Check",
    needs_auditor_key: "requires an auditor's (or the department's) member key",
    audit_zone: "Dates are days in the network's time zone ({zone}).",
    audit_counts: "{shown} of {total} events shown, {pages} page(s)", audit_timeline: "Audit timeline",
    audit_truncated: "Only the first {pages} pages were loaded; narrow the trace.", col_call: "Call",
    col_outcome: "Outcome", col_signer: "Signer", audit_not_covered: "What the proof does not cover",
    audit_report_counts: "{verified} of {n} events verified",
    sup_title: "Deadline supervision", sup_intro: "Per department and period: open, overdue and near-deadline cases, "
      + "the on-time rate, time per step and per officer. The figures are the node's, computed from its state "
      + "(an auditor's or the department's member key is needed).",
    sup_query: "Query", sup_granularity: "Per", sup_by_day: "day", sup_by_week: "week", sup_by_month: "month",
    sup_within_days: "Near deadline (working days)", sup_load: "Show",
    sup_err_form: "Choose a department and dates; near deadline is 0 to 60 working days.",
    sup_err_order: "The end date is before the start date.",
    sup_err_periods: "Too many periods (at most {n}): choose a longer one.",
    sup_as_of: "Cases filed in the period, as of block {height} (from block {from}).", sup_open: "Open",
    sup_overdue: "Overdue", sup_due_soon: "Due within {n} working days", sup_returned: "Returned for correction",
    sup_decided: "Decided", sup_decided_on_time: "Decided on time", sup_rate: "On-time rate",
    sup_not_proven: "These figures are the node's computation from its state; this page does not verify them. "
      + "Use the audit timeline to verify a case's events.",
    sup_rate_per_period: "On-time rate per period", sup_rate_desc: "Of the cases filed and decided in each period, "
      + "the share decided on time; a period with no decided case shows –.",
    sup_period: "Period", sup_overdue_list: "Overdue cases", sup_due_soon_list: "Cases due within {n} working days",
    sup_none: "none", sup_case: "Case", sup_item: "Item", sup_officer: "Officer", sup_deadline: "Deadline",
    sup_days_left: "Working days left", sup_time_per_step: "Time per step (median)",
    sup_step_desc: "Median time since the step before, per kind of step.", sup_step: "Step", sup_count: "Count",
    sup_median: "Median (working days)", sup_median_duration: "Median (time)", sup_seconds: "{n} s", sup_ms: "{n} ms",
    sup_minutes: "{n} min", sup_officers: "Officers",
    sup_cases: "Cases", sup_on_time: "On time", sup_steps: "Steps", sup_wd: "{n} working days", sup_hours: "{n} h",
    step_file: "filing", step_resubmit: "resubmission", step_request_correction: "correction requested",
    step_review: "review", step_opinion: "opinion", step_hand_over: "hand-over", step_decide: "decision",

    tx_proof_heading: "Proof", tx_proof_verified: "verified against genesis {root}…",
    tx_proof_failed: "not verified against genesis {root}…", tx_proof_differs: "the node's {what} differs from the proven one",
    tx_proof_no_genesis: "Not verified: no genesis file is pinned in this browser; choose and pin one on this page:",
    tx_proof_not_read: "Not verified: the proof could not be read.", tx_proof_time: "Checked in",

    search_label: "Search", search_placeholder: "height, transaction ID, certificate ID, case ID or member key",
    search_go: "Go", search_invalid: "Not recognised: type a block height (digits), a transaction ID or member key "
      + "(64 hex digits), or a certificate or case ID (32 hex digits).",
    search_no_height: "There is no block at that height yet.",
    search_not_found: "This node knows no transaction or member with that ID or key.",

    trust_file: "Trust file (optional)", trust_forget: "Remove trust file",
    trust_none: "No trust file: proofs are checked from genesis.",
    trust_loaded: "Trust file: height {height}, block {hash}, validators {sets}. Proofs from this height are "
      + "checked from it, others from genesis; the trust file is kept in this page's memory only.",
    trust_needs_genesis: "Load the genesis file first: a trust file is checked against it.", stage_trust: "Trust file",
    root_heading: "Checked against", root_genesis: "genesis {hash}", root_trust: "the trust file of height {height} "
      + "(block {hash})", root_held: "held: genesis {genesis}; {trust}", root_no_trust: "no trust file",

    camera_scan: "Scan the QR code with the camera", camera_stop: "Stop scanning", camera_video: "Camera view",
    camera_starting: "Opening the camera…", camera_looking: "Hold the QR code in front of the camera, the whole "
      + "code in view.", camera_stopped: "Scanning stopped.", camera_read: "QR code read from the camera ({n} bytes).",
    camera_source: "QR code from the camera",
    camera_unavailable: "This page cannot use a camera (it needs https or a local address). Use a photo of the QR "
      + "code instead.",
    camera_no_camera: "No camera was found, or it could not be opened. Use a photo of the QR code instead.",
    camera_refused: "Permission to use the camera was refused. Allow it in the browser's settings, or use a photo "
      + "of the QR code instead.",

    clock_behind: "This computer's clock is about {s} s ({m} min) behind the node's: signed requests now use the "
      + "node's time. Please set the computer's clock right.",
    clock_ahead: "This computer's clock is about {s} s ({m} min) ahead of the node's: signed requests now use the "
      + "node's time. Please set the computer's clock right.",
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
