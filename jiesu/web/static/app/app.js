// The citizens' app (/app): photos shrunk in the browser before they are sent, "use my location", the community
// picker, and similar requests nearby offered as the citizen types. Without this script the forms still work.
(function () {
  "use strict";
  var MAX_SIDE = 1600, QUALITY = 0.8;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // A photo as a JPEG of at most MAX_SIDE pixels on its longer side; a file the browser cannot draw goes as it is.
  function shrink(file) {
    return new Promise(function (resolve) {
      if (!/^image\/(jpeg|png|webp)$/.test(file.type) || !window.createImageBitmap) { resolve(file); return; }
      createImageBitmap(file).then(function (bitmap) {
        var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(bitmap.width * scale);
        canvas.height = Math.round(bitmap.height * scale);
        var ctx = canvas.getContext("2d");
        ctx.fillStyle = "#fff";
        ctx.fillRect(0, 0, canvas.width, canvas.height);
        ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
        canvas.toBlob(function (blob) {
          if (!blob || (blob.size >= file.size && scale === 1 && file.type === "image/jpeg")) { resolve(file); return; }
          var name = (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg";
          resolve(new File([blob], name, { type: "image/jpeg" }));
        }, "image/jpeg", QUALITY);
      }).catch(function () { resolve(file); });
    });
  }

  // Forms with photos: the photos shrunk, sent with fetch; the answer (the next page, or the form with its error)
  // replaces the page. One submission at a time: a double tap sends once (and the server's Idempotency-Key
  // makes a repeated report the same ticket anyway).
  function photoForm(form) {
    var input = form.querySelector('input[type="file"]');
    var max = parseInt(form.dataset.maxPhotos || "3", 10);
    var previews = form.querySelector(".app-previews");
    var chosen = [];
    if (!input || !window.fetch || !window.FormData) return;
    function draw() {
      if (!previews) return;
      previews.textContent = "";
      chosen.forEach(function (file, i) {
        var fig = el("figure");
        var img = el("img", { alt: file.name });
        img.src = URL.createObjectURL(file);
        var remove = el("button", { type: "button", "class": "secondary" }, form.dataset.tRemove || "×");
        remove.addEventListener("click", function () { chosen.splice(i, 1); draw(); });
        fig.appendChild(img);
        fig.appendChild(remove);
        previews.appendChild(fig);
      });
    }
    input.addEventListener("change", function () {
      Array.prototype.forEach.call(input.files, function (f) { if (chosen.length < max) chosen.push(f); });
      if (input.files.length + chosen.length > max && form.dataset.tTooMany) alert(form.dataset.tTooMany);
      input.value = "";
      draw();
    });
    var sending = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (sending) return;
      sending = true;
      var button = form.querySelector('button[type="submit"]');
      if (button) { button.disabled = true; if (form.dataset.tSending) button.textContent = form.dataset.tSending; }
      var data = new FormData(form);
      data.delete(input.name);
      Promise.all(chosen.map(shrink)).then(function (files) {
        files.forEach(function (f) { data.append(input.name, f, f.name); });
        return fetch(form.action, { method: "POST", body: data, credentials: "same-origin",
                                    headers: { "X-CSRF-Token": csrf } });
      }).then(function (response) {
        if (response.redirected) {
          location.assign(response.url);
          return null;
        }
        return response.text().then(function (html) {
          document.open();
          document.write(html);
          document.close();
        });
      }).catch(function () {
        sending = false;
        if (button) button.disabled = false;
        form.submit();  // the network failed under fetch: the browser's own submission, without shrinking
      });
    });
  }

  function report(form) {
    var t = form.dataset;
    var lng = form.querySelector('input[name="lng"]'), lat = form.querySelector('input[name="lat"]');
    var area = form.querySelector('input[name="area_code"]'), district = form.querySelector("#district");
    var located = form.querySelector("#located"), chosenText = form.querySelector("#place-chosen");
    var query = form.querySelector("#place-q"), results = form.querySelector("#place-results");
    var text = form.querySelector("#text"), similar = form.querySelector("#similar");

    function getJSON(url) {
      return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r); });
    }

    var locate = form.querySelector("#locate");
    if (locate && navigator.geolocation) {
      locate.addEventListener("click", function () {
        located.textContent = t.tLocating;
        navigator.geolocation.getCurrentPosition(function (pos) {
          var x = pos.coords.longitude.toFixed(6), y = pos.coords.latitude.toFixed(6);
          getJSON("/app/locate?lng=" + x + "&lat=" + y).then(function (place) {
            if (!place.found) { located.textContent = t.tOutside; return; }
            lng.value = x; lat.value = y;
            district.value = place.district_code || "";
            located.textContent = t.tLocated + place.path + "。" + t.tPick;
            findSimilar();
          }).catch(function () { located.textContent = t.tNolocation; });
        }, function () { located.textContent = t.tNolocation; }, { enableHighAccuracy: true, timeout: 15000 });
      });
    } else if (locate) {
      locate.hidden = true;
    }

    var search = debounce(function () {
      var q = query.value.trim();
      results.textContent = "";
      if (!q) return;
      var url = "/app/places?q=" + encodeURIComponent(q) + (district.value ? "&district=" + district.value : "");
      getJSON(url).then(function (found) {
        results.textContent = "";
        if (!found.matches.length) { results.appendChild(el("li", {}, t.tNone)); return; }
        found.matches.forEach(function (m) {
          var li = el("li"), b = el("button", { type: "button", "data-code": m.code }, m.path);
          b.addEventListener("click", function () {
            area.value = m.code;
            chosenText.textContent = t.tChosen + m.path;
            results.textContent = "";
            query.value = m.name;
            findSimilar();
          });
          li.appendChild(b);
          results.appendChild(li);
        });
      }).catch(function () {});
    }, 300);
    if (query) query.addEventListener("input", search);

    var findSimilar = debounce(function () {
      var words = text.value.trim();
      if (words.length < 4) { similar.hidden = true; return; }
      var url = "/app/similar?text=" + encodeURIComponent(words.slice(0, 500)) +
        (area.value ? "&area_code=" + encodeURIComponent(area.value) : "") +
        (lng.value && lat.value ? "&lng=" + lng.value + "&lat=" + lat.value : "");
      getJSON(url).then(function (found) {
        var list = similar.querySelector("ul");
        list.textContent = "";
        found.similar.forEach(function (s) {
          var li = el("li");
          li.appendChild(el("b", { "class": "app-status" }, s.status));
          li.appendChild(el("span", {}, [s.category, s.place].filter(Boolean).join(" · ")));
          li.appendChild(el("span", { "class": "app-meta" }, s.number + " · " + s.created +
            (s.followers ? " · " + s.followers + " " + t.tFollowers : "")));
          if (s.following) {
            li.appendChild(el("span", { "class": "app-badge" }, t.tFollowing));
          } else {
            var f = el("form", { method: "post", action: "/app/requests/" + s.number + "/follow" });
            f.appendChild(el("input", { type: "hidden", name: "csrf_token", value: csrf }));
            f.appendChild(el("button", { type: "submit", "class": "secondary" }, t.tSimilar));
            li.appendChild(f);
          }
          list.appendChild(li);
        });
        similar.hidden = !found.similar.length;
      }).catch(function () {});
    }, 700);
    text.addEventListener("input", findSimilar);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("report");
    if (form) report(form);
    Array.prototype.forEach.call(document.querySelectorAll("form#report, form.app-photo-form"), photoForm);
  });
})();
