(function () {
  const text = document.getElementById("caller-text");
  const type = document.getElementById("request-type");
  const list = document.getElementById("kb-hits");
  const status = document.getElementById("kb-status");
  const answer = document.getElementById("answer");
  const articleId = document.getElementById("article-id");
  const picked = document.getElementById("picked");
  const form = document.getElementById("call-form");
  const inquiry = form.dataset.inquiry;
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
  text.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(search, 250); });
  type.addEventListener("change", () => { showInquiry(); asked = ""; search(); });
  showInquiry();
})();
