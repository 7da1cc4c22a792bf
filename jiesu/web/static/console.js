// The operator console (话务台): knowledge-base answers for an inquiry and smart dispatch's suggestion for the
// call, both as the operator types (debounced; an answer to an older question is dropped); keyboard shortcuts.
(function () {
  const text = document.getElementById("caller-text");
  const type = document.getElementById("request-type");
  const list = document.getElementById("kb-hits");
  const status = document.getElementById("kb-status");
  const answer = document.getElementById("answer");
  const articleId = document.getElementById("article-id");
  const picked = document.getElementById("picked");
  const form = document.getElementById("call-form");
  const address = document.getElementById("address");
  const phone = document.getElementById("contact-phone");
  const urgency = document.getElementById("urgency");
  const urgencyHint = document.getElementById("urgency-hint");
  const suggestBox = document.getElementById("suggest");
  const inquiry = form.dataset.inquiry;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  let timer = null, asked = "", seq = 0;

  function showInquiry() {
    const on = type.value === inquiry;
    form.classList.toggle("not-inquiry", !on);
    document.querySelector(".kb").hidden = !on;
  }
  function use(id, answerText) {
    answer.value = answerText;
    articleId.value = id;
    picked.textContent = list.dataset.picked + " #" + id;
    for (const li of list.children) li.classList.toggle("picked", li.dataset.id === String(id));
  }
  function render(hits) {
    list.replaceChildren();
    status.textContent = hits.length ? "" : list.dataset.none;
    for (const h of hits) {
      const li = document.createElement("li");
      li.className = "kb-hit";
      li.dataset.id = h.id;
      const q = document.createElement("h3"); q.textContent = h.question;
      const a = document.createElement("p"); a.className = "answer"; a.textContent = h.answer;
      const meta = document.createElement("p"); meta.className = "meta";
      meta.textContent = [h.category_name, h.area_name, h.public ? null : list.dataset.internal, h.matched.join(" ")]
        .filter(Boolean).join(" · ");
      const b = document.createElement("button"); b.type = "button"; b.className = "use"; b.textContent = list.dataset.use;
      b.addEventListener("click", () => use(h.id, h.answer));
      li.append(q, a, meta, b);
      if (String(h.id) === articleId.value) li.classList.add("picked");
      list.append(li);
    }
  }
  async function search() {
    const q = text.value.trim();
    if (type.value !== inquiry || q.length < 2 || q === asked) return;
    asked = q;
    const mine = ++seq;
    status.textContent = list.dataset.wait;
    try {
      const r = await fetch("/api/v1/knowledge/search?" + new URLSearchParams({q: q.slice(0, Number(form.dataset.maxText)), limit: list.dataset.limit}),
                            {credentials: "same-origin", headers: {Accept: "application/json"}});
      if (mine !== seq) return;
      if (!r.ok) { status.textContent = list.dataset.none; return; }
      render((await r.json()).hits);
    } catch (e) { if (mine === seq) status.textContent = list.dataset.none; }
  }
  for (const b of list.querySelectorAll("button.use")) {
    const li = b.closest("li");
    b.addEventListener("click", () => use(li.dataset.id, li.querySelector(".answer").textContent));
  }

  // --- smart dispatch's suggestion (POST /api/v1/routing/suggest: nothing is stored) -----------------------
  const labels = suggestBox ? JSON.parse(suggestBox.dataset.labels) : {};
  const suggestStatus = document.getElementById("suggest-status");
  const suggestBody = document.getElementById("suggest-body");
  let suggestTimer = null, suggestAsked = "", suggestSeq = 0;
  // An urgency the page came back with (a form sent without JavaScript, or refused) is the operator's.
  let urgencyTouched = urgency.value !== urgency.options[0].value;

  function el(tag, cls, content) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (content !== undefined && content !== null) e.textContent = content;
    return e;
  }
  function whys(dd, reasons) {
    for (const r of reasons || []) dd.append(el("div", "why", r));
  }
  function urgencyLabel(value) {
    const o = [...urgency.options].find((x) => x.value === value);
    return o ? o.textContent : value;
  }
  function renderSuggestion(s) {
    const dl = el("dl", "suggest-list");
    const row = (label, cls) => { dl.append(el("dt", null, label)); const dd = el("dd", cls); dl.append(dd); return dd; };
    let dd = row(labels.category, "s-category");
    if (s.category_name) {
      dd.append(el("b", null, s.category_name), " ", el("span", "muted", labels.confidence + " " + s.category_confidence.toFixed(2)));
    } else dd.append("—");
    whys(dd, s.category_reasons);
    const place = s.place || {};
    dd = row(labels.place, "s-place");
    if (place.ambiguous) {
      dd.append(el("strong", "ambiguous", labels.ambiguous));
      if ((place.alternatives || []).length) {
        dd.append(labels.maybe);
        const ul = el("ul", "alternatives");
        for (const a of place.alternatives) ul.append(el("li", null, a.path));
        dd.append(ul);
      }
    } else if (place.path) dd.append(el("b", null, place.path));
    else dd.append(labels.unplaced);
    whys(dd, place.reasons);
    dd = row(labels.unit, "s-unit");
    if (s.main_unit) {
      dd.append(el("b", null, s.main_unit.name));
      if (s.co_units.length) dd.append(" ", el("span", "muted", labels.co + "：" + s.co_units.map((u) => u.name).join("、")));
    } else dd.append("—");
    whys(dd, s.unit_reasons);
    dd = row(labels.urgency, "s-urgency");
    dd.append(el("b", null, urgencyLabel(s.urgency)));
    if (s.urgency_reasons.length) dd.append(" ", el("span", "why", s.urgency_reasons.join("、")));
    dd = row(labels.duplicates, "s-duplicates");
    if (s.duplicates.length) {
      const ul = el("ul");
      for (const d of s.duplicates) {
        const li = el("li");
        const a = el("a", null, d.number); a.href = "/tickets/" + encodeURIComponent(d.number);
        a.target = "_blank"; a.rel = "noopener";  // the call being typed stays on this page
        li.append(a, " ", el("span", "muted", d.score.toFixed(2)), " ", el("span", "why", d.reasons.join("、")));
        ul.append(li);
      }
      dd.append(ul);
    } else dd.append(labels.none);
    const parts = [dl];
    if (s.manual) parts.push(el("p", "s-manual", labels.manual + "：" + s.manual_reasons.join("；")));
    suggestBody.replaceChildren(...parts);
    // The suggested urgency is taken until the operator chooses one; the hint says so.
    if (!urgencyTouched && [...urgency.options].some((o) => o.value === s.urgency)) {
      urgency.value = s.urgency;
      urgencyHint.textContent = labels.by_hint + " " + urgencyLabel(s.urgency) + (s.urgency_reasons.length ? "（" + s.urgency_reasons.join("、") + "）" : "");
      urgencyHint.hidden = s.urgency === urgency.options[0].value;
    }
  }
  async function suggest() {
    if (!suggestBox) return;
    const body = {text: text.value.trim(), address: address.value.trim()};
    const p = phone.value.trim();
    if (/^\+?[0-9][0-9 -]{4,19}$/.test(p)) body.contact_phone = p;
    const key = JSON.stringify(body);
    if (body.text.length < 4 || key === suggestAsked) return;
    suggestAsked = key;
    const mine = ++suggestSeq;
    suggestStatus.textContent = suggestBox.dataset.wait;
    try {
      const r = await fetch("/api/v1/routing/suggest", {
        method: "POST", credentials: "same-origin", body: key,
        headers: {"Accept": "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrf}});
      if (mine !== suggestSeq) return;
      if (!r.ok) { suggestStatus.textContent = suggestBox.dataset.failed; suggestAsked = ""; return; }
      const s = await r.json();
      if (mine !== suggestSeq) return;
      suggestStatus.textContent = "";
      renderSuggestion(s);
    } catch (e) { if (mine === suggestSeq) { suggestStatus.textContent = suggestBox.dataset.failed; suggestAsked = ""; } }
  }
  function later() {
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(suggest, 400);
  }
  urgency.addEventListener("change", () => { urgencyTouched = true; urgencyHint.hidden = true; });

  // --- the keyboard ---------------------------------------------------------------------------------------
  // Alt+digit switches tabs in Chrome and Firefox on Linux, Ctrl+digit elsewhere: the answers are Alt+Shift+digit.
  function submitWith(button) {
    if (!button || button.offsetParent === null) return;
    if (form.requestSubmit) form.requestSubmit(button); else button.click();
  }
  document.addEventListener("keydown", (e) => {
    if (e.isComposing || e.keyCode === 229 || e.metaKey) return;  // the IME is composing
    const plainAlt = e.altKey && !e.ctrlKey && !e.shiftKey;
    let done = true;
    if (plainAlt && e.code === "KeyN") text.focus();
    else if (plainAlt && e.code === "KeyU") urgency.focus();
    else if ((plainAlt && e.code === "KeyG") || (e.ctrlKey && !e.altKey && e.key === "Enter")) {
      submitWith(document.getElementById("ticket-button"));
    } else if (plainAlt && e.code === "KeyA") {
      if (type.value === inquiry) submitWith(document.getElementById("answer-button"));
    } else if (e.altKey && e.shiftKey && !e.ctrlKey && /^Digit[1-9]$/.test(e.code)) {
      const li = list.querySelectorAll("li.kb-hit")[Number(e.code.slice(5)) - 1];
      const b = li && li.querySelector("button.use");
      if (b && type.value === inquiry) b.click();
    } else done = false;
    if (done) e.preventDefault();
  });
  for (const s of document.querySelectorAll(".js-only")) s.hidden = false;

  text.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(search, 250); later(); });
  address.addEventListener("input", later);
  phone.addEventListener("change", later);
  type.addEventListener("change", () => { showInquiry(); asked = ""; search(); });
  showInquiry();
  if (text.value.trim()) later();
})();
