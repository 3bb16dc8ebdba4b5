// The "member key" panel of a console page's header: load a key file (file picker), type the passphrase of an
// encrypted one, see whose key it is (name, department and roles from the public roster), unload it. The panel
// only drives session.js; it never sees the seed, and the passphrase field is cleared as soon as it is used.

import { el, clear, shortHex } from "../dom.js";
import { currentMember, memberProfile, onMemberChange, readKeyFile, rememberedKey, unloadMember } from "../session.js";
import { mt, errorText } from "./texts.js";

/** Build the panel inside `container` and keep it in step with the session. */
export function mountMemberPanel(container) {
  let pending = null; // a read, encrypted key file waiting for its passphrase
  let busy = false;
  let error = "";

  const render = () => {
    clear(container);
    container.classList.add("member-panel");
    const member = currentMember();
    container.dataset.state = member ? "loaded" : pending ? "passphrase" : "empty";
    if (member) container.append(loadedView(member));
    else if (pending) container.append(passphraseView());
    else container.append(emptyView());
    const status = el("p", { id: "member-error", class: "member-error", role: "alert" }, error);
    status.hidden = !error;
    container.append(status);
  };

  const fail = (e) => {
    error = errorText(e);
    busy = false;
    render();
  };

  function emptyView() {
    const input = el("input", { type: "file", id: "member-file", accept: ".key,.json,application/json" });
    input.addEventListener("change", async () => {
      const file = input.files?.[0];
      if (!file) return;
      error = "";
      try {
        const read = await readKeyFile(file);
        if (read.encrypted) {
          pending = read;
          render();
          document.getElementById("member-passphrase")?.focus();
        } else {
          await read.open("");
        }
      } catch (e) {
        fail(e);
      }
    });
    const remembered = rememberedKey();
    return el("div", { class: "member-row" },
      el("span", { class: "member-label" }, `${mt("member_key")}: ${mt("member_none")}`),
      el("label", { class: "file-button member-button" }, el("span", {}, mt("member_load")), input),
      remembered ? el("span", { class: "member-hint" }, mt("member_remembered",
        { label: remembered.label || "-", key: shortHex(remembered.publicKey, 8) })) : null);
  }

  function passphraseView() {
    const input = el("input", { type: "password", id: "member-passphrase", autocomplete: "current-password",
      "aria-label": mt("member_passphrase"), maxlength: "1024", required: "" });
    const open = el("button", { type: "submit", id: "member-open", class: "member-button" }, busy ? mt("member_loading") : mt("member_open"));
    const cancel = el("button", { type: "button", id: "member-cancel", class: "member-button quiet" }, mt("member_cancel"));
    open.disabled = busy;
    input.disabled = busy;
    const form = el("form", { id: "member-passphrase-form", class: "member-row" },
      el("span", { class: "member-label" }, `${mt("member_encrypted")} ${pending.label || shortHex(pending.publicKeyHex, 8)}`),
      input, open, cancel);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const passphrase = input.value;
      input.value = "";
      busy = true;
      error = "";
      render();
      try {
        await pending.open(passphrase);
        pending = null;
        busy = false;
        render();
      } catch (e) {
        fail(e);
        document.getElementById("member-passphrase")?.focus();
      }
    });
    cancel.addEventListener("click", () => {
      pending = null;
      error = "";
      render();
    });
    return form;
  }

  function loadedView(member) {
    const unload = el("button", { type: "button", id: "member-unload", class: "member-button quiet" }, mt("member_unload"));
    unload.addEventListener("click", () => unloadMember());
    const profile = memberProfile();
    const who = profile?.name || member.label || shortHex(member.publicKey, 8);
    const detail = member.department && profile?.active
      ? `${member.department} · ${member.roles.join(", ") || "-"}`
      : mt("member_unregistered");
    return el("div", { class: "member-row", id: "member-info", "data-public-key": member.publicKey,
      "data-department": member.department ?? "" },
    el("span", { class: "member-who" }, el("strong", { id: "member-name" }, who),
      el("span", { id: "member-detail", class: member.department && profile?.active ? "member-detail" : "member-detail warn" }, detail),
      el("span", { class: "member-key mono", title: member.publicKey }, `${mt("member_key_short")} ${shortHex(member.publicKey, 12)}`)),
    unload);
  }

  onMemberChange(() => {
    error = "";
    render();
  });
  render();
  return { render };
}
