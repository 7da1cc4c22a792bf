// The real number, for the call: read from the API, which logs every unmasked read.
document.querySelectorAll("button.reveal").forEach(function (button) {
  button.addEventListener("click", function () {
    var n = button.dataset.number;
    fetch("/api/v1/tickets/" + encodeURIComponent(n) + "/contact?purpose=" + encodeURIComponent("回访"),
          {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (c) {
        if (!c) { return; }
        var span = document.querySelector('span.masked[data-number="' + n + '"]');
        if (span) { span.textContent = (c.name || "") + " " + (c.phone || ""); span.classList.remove("masked"); }
        button.remove();
      });
  });
});
// The three questions only matter when the citizen was reached.
document.querySelectorAll("form.callback-form").forEach(function (form) {
  function sync() {
    var reached = form.querySelector("input[name=reached]:checked");
    var off = reached && reached.value === "0";
    form.querySelectorAll("fieldset.answers").forEach(function (f) { f.disabled = off; });
  }
  form.querySelectorAll("input[name=reached]").forEach(function (i) { i.addEventListener("change", sync); });
  sync();
});
