// The unit workbench: a form sent once. A phone's second tap (or an impatient double click) would post the same
// step again; the server refuses it by the ticket's version, but the person should not see that refusal.
document.querySelectorAll(".work-item form").forEach(function (form) {
  form.addEventListener("submit", function () {
    form.querySelectorAll("button[type=submit]").forEach(function (b) {
      // after the submit has started: a disabled button's form is still sent
      setTimeout(function () { b.disabled = true; }, 0);
    });
  });
});
// The whistle's picker: the district's departments are ticked; another unit is typed by its code. The departments
// are on the page once (<template id="summon-picks">) and put in a whistle's form when it first opens; those
// already summoned to the ticket (data-already: their codes) show ticked and cannot be ticked again.
function fillPicks(details) {
  var box = details.querySelector("fieldset.unit-picks");
  var picks = document.getElementById("summon-picks");
  if (!box || !picks || box.querySelector("label.pick")) { return; }
  var already = (box.dataset.already || "").split(" ");
  var copy = picks.content.cloneNode(true);
  copy.querySelectorAll("input[name=units]").forEach(function (input) {
    if (already.indexOf(input.value) >= 0) { input.checked = true; input.disabled = true; }
  });
  box.insertBefore(copy, box.querySelector("label.other"));
}
document.addEventListener("toggle", function (ev) {
  var el = ev.target;
  if (el.matches && el.matches("details.step-whistle") && el.open) { fillPicks(el); }
}, true);
document.querySelectorAll("details.step-whistle[open]").forEach(fillPicks);
document.querySelectorAll("form.whistle").forEach(function (form) {
  form.addEventListener("submit", function (ev) {
    var picked = form.querySelectorAll("input[name=units]:checked:not([disabled])").length;
    var typed = form.querySelector("input.unit-pick");
    if (!picked && typed && !typed.value.trim()) {
      ev.preventDefault();
      typed.setCustomValidity(typed.dataset.empty || "");
      typed.reportValidity();
      typed.setCustomValidity("");
    }
  });
});
// Back from a step: the ticket just worked on comes into view (the notice at the top names it too).
var justDone = document.querySelector(".work-item.just-done");
if (justDone) { justDone.scrollIntoView({block: "start"}); }
