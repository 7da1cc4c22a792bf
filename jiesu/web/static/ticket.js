// The ticket's step forms (templates/_steps.html): unit and category pickers that search as one types, and a
// preview of the photos chosen. Without this script the forms still work: codes are typed into the boxes.
(function () {
  "use strict";
  if (window.jiesuSteps) return; // the macro may be on a page several times (a queue of tickets)
  window.jiesuSteps = true;

  var SOURCES = {
    units: function (q) { return "/api/v1/units?active=true&limit=12&search=" + encodeURIComponent(q); },
    categories: function (q) { return "/api/v1/categories?q=" + encodeURIComponent(q); }
  };

  function itemsOf(kind, body) {
    if (kind === "units") {
      return (body.items || []).map(function (u) {
        return { code: u.code, name: u.name, note: u.area_path || "" };
      });
    }
    return (Array.isArray(body) ? body : []).slice(0, 12).map(function (c) {
      return { code: c.code, name: c.name, note: c.path || "" };
    });
  }

  function setup(box) {
    var kind = box.getAttribute("data-picker");
    var input = box.querySelector(".pick-input");
    var list = box.querySelector(".pick-list");
    var picked = box.querySelector(".picked");
    var items = [];
    var active = -1;
    var timer = null;
    var asked = 0;
    if (!input || !list || !SOURCES[kind]) return;

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function mark(i) {
      var rows = list.querySelectorAll("li");
      rows.forEach(function (li, j) { li.setAttribute("aria-selected", j === i ? "true" : "false"); });
      active = i;
      if (rows[i]) {
        input.setAttribute("aria-activedescendant", rows[i].id);
        rows[i].scrollIntoView({ block: "nearest" });
      }
    }

    function choose(i) {
      var item = items[i];
      if (!item) return;
      input.value = item.code;
      if (picked) picked.textContent = item.name + (item.note && item.note !== item.name ? " · " + item.note : "");
      input.setCustomValidity("");
      close();
      input.focus();
    }

    function show(found) {
      items = found;
      list.textContent = "";
      found.forEach(function (item, i) {
        var li = document.createElement("li");
        li.id = input.id + "-opt-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("data-code", item.code);
        var name = document.createElement("span");
        name.className = "name";
        name.textContent = item.name;
        var code = document.createElement("code");
        code.textContent = item.code;
        li.appendChild(name);
        li.appendChild(document.createTextNode(" "));
        li.appendChild(code);
        if (item.note) {
          var note = document.createElement("small");
          note.className = "muted";
          note.textContent = item.note;
          li.appendChild(note);
        }
        li.addEventListener("mousedown", function (ev) { ev.preventDefault(); choose(i); });
        list.appendChild(li);
      });
      if (!found.length) {
        var none = document.createElement("li");
        none.className = "none muted";
        none.textContent = document.documentElement.lang === "en" ? "No match" : "没有找到";
        list.appendChild(none);
      }
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      mark(found.length ? 0 : -1);
    }

    function search() {
      var q = input.value.trim();
      if (!q) { close(); return; }
      var mine = ++asked;
      fetch(SOURCES[kind](q), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) { if (body && mine === asked && document.activeElement === input) show(itemsOf(kind, body)); })
        .catch(function () { /* typing a code still works */ });
    }

    input.addEventListener("input", function () {
      if (picked) picked.textContent = "";
      clearTimeout(timer);
      timer = setTimeout(search, 150);
    });
    input.addEventListener("keydown", function (ev) {
      var open = !list.hidden && items.length;
      if (ev.key === "ArrowDown") {
        ev.preventDefault();
        if (list.hidden) { search(); return; }
        mark(Math.min(active + 1, items.length - 1));
      } else if (ev.key === "ArrowUp") {
        ev.preventDefault();
        mark(Math.max(active - 1, 0));
      } else if (ev.key === "Enter" && open && active >= 0) {
        ev.preventDefault(); // picks, does not send the form
        choose(active);
      } else if (ev.key === "Escape" && !list.hidden) {
        ev.preventDefault();
        close();
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
  }

  // Several units: one picker a row; a button adds a row (a copy of the last, emptied).
  function rows(set) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "add-row";
    button.textContent = document.documentElement.lang === "en" ? "+ Another unit" : "+ 再加一个单位";
    button.addEventListener("click", function () {
      var all = set.querySelectorAll(".picker-row");
      var last = all[all.length - 1];
      var row = last.cloneNode(true);
      var n = all.length;
      var input = row.querySelector(".pick-input");
      var list = row.querySelector(".pick-list");
      var label = row.querySelector("label");
      input.id = input.id.replace(/-\d+$/, "-" + n);
      list.id = input.id + "-list";
      input.setAttribute("aria-controls", list.id);
      input.value = "";
      input.required = false;
      if (label) label.setAttribute("for", input.id);
      row.querySelector(".picked").textContent = "";
      list.textContent = "";
      list.hidden = true;
      last.parentNode.insertBefore(row, last.nextSibling);
      setup(row);
      input.focus();
    });
    var hint = set.querySelector(".hint");
    set.insertBefore(button, hint);
  }

  function previews(field) {
    var out = field.parentNode.querySelector(".photo-preview");
    if (!out) return;
    field.addEventListener("change", function () {
      out.querySelectorAll("img").forEach(function (img) { URL.revokeObjectURL(img.src); });
      out.textContent = "";
      Array.prototype.forEach.call(field.files || [], function (file) {
        var li = document.createElement("li");
        if (file.type.indexOf("image/") === 0) {
          var img = document.createElement("img");
          img.src = URL.createObjectURL(file);
          img.alt = file.name;
          li.appendChild(img);
        }
        var name = document.createElement("span");
        name.textContent = file.name + " (" + Math.max(1, Math.round(file.size / 1024)) + " KB)";
        li.appendChild(name);
        out.appendChild(li);
      });
    });
  }

  function start() {
    document.querySelectorAll(".step-form [data-picker]").forEach(setup);
    document.querySelectorAll(".step-form .picker-rows").forEach(rows);
    document.querySelectorAll(".step-form .photo-input").forEach(previews);
    document.querySelectorAll(".step-form").forEach(function (form) {
      form.addEventListener("submit", function () {
        var button = form.querySelector("button[type=submit]");
        if (button) setTimeout(function () { button.disabled = true; }, 0); // one click, one step
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
