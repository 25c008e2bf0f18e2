/* smm-scheduler: small progressive enhancements. Every form works without this file. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function length(text, unit) {
    // Telegram counts UTF-16 code units (JS string length); the others count characters (code points).
    return unit === "utf16" ? text.length : Array.from(text).length;
  }

  function setupAutosubmit() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
      el.addEventListener("change", function () { if (el.form) el.form.submit(); });
    });
  }

  function setupCompose() {
    var form = document.getElementById("compose");
    if (!form) return;
    var text = document.getElementById("text");
    var counter = document.getElementById("counter");
    var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name=channel_ids]"));
    var mediaId = document.getElementById("media_id");
    var mediaName = document.getElementById("media_name");
    var mediaUrl = document.getElementById("media_url");
    var mediaKind = document.getElementById("media_kind");
    var fileInput = document.getElementById("media_file");
    var preview = document.getElementById("media-preview");
    var zone = document.getElementById("timezone");

    function hasMedia() { return Boolean((mediaId && mediaId.value) || (mediaUrl && mediaUrl.value.trim())); }

    function updateCounter() {
      if (!counter || !text) return;
      var chosen = boxes.filter(function (b) { return b.checked; });
      if (!chosen.length) { counter.textContent = length(text.value, "chars") + " characters"; counter.classList.remove("over"); return; }
      var worst = null;
      chosen.forEach(function (b) {
        var override = form.querySelector("textarea[data-override-for='" + b.value + "']");
        var body = override && override.value.trim() ? override.value : text.value;
        var media = hasMedia();
        var limit = parseInt(media ? b.dataset.captionMax : b.dataset.textMax, 10) || 0;
        if (!limit) return;
        var used = length(body, b.dataset.unit);
        var left = limit - used;
        if (worst === null || left < worst.left) {
          worst = { left: left, used: used, limit: limit, name: b.dataset.platform + (media ? " caption" : " text") };
        }
      });
      if (!worst) { counter.textContent = ""; return; }
      counter.textContent = worst.used + " / " + worst.limit + " · " + worst.name +
        (worst.left < 0 ? " — " + (-worst.left) + " over" : "");
      counter.classList.toggle("over", worst.left < 0);
    }

    function updateZoneLabel() {
      if (!zone) return;
      var first = boxes.filter(function (b) { return b.checked; })[0];
      var option = zone.querySelector("option[value='']");
      if (option) option.textContent = first ? "Channel's zone: " + first.dataset.timezone : "The first chosen channel's zone";
    }

    function updateWhen() {
      var at = document.getElementById("when-at");
      var fields = form.querySelector(".when-at-fields");
      if (!at || !fields) return;
      fields.querySelectorAll("input, select").forEach(function (el) { el.disabled = !at.checked; });
    }

    function showPreview(src, name) {
      if (!preview) return;
      preview.textContent = "";
      if (src) {
        var img = document.createElement("img");
        img.src = src; img.alt = "Preview of the uploaded file " + name;
        preview.appendChild(img);
        var cap = document.createElement("figcaption");
        cap.textContent = name + " ";
        var remove = document.createElement("button");
        remove.type = "button"; remove.className = "link-button"; remove.textContent = "remove";
        remove.addEventListener("click", clearMedia);
        cap.appendChild(remove);
        preview.appendChild(cap);
        preview.hidden = false;
      } else {
        preview.hidden = true;
      }
    }

    function clearMedia() {
      mediaId.value = ""; mediaName.value = "";
      showPreview("", "");
      updateCounter();
    }

    if (fileInput) {
      fileInput.addEventListener("change", function () {
        if (!fileInput.files || !fileInput.files.length) return;
        var data = new FormData();
        data.append("csrf_token", form.querySelector("input[name=csrf_token]").value);
        data.append("media_file", fileInput.files[0]);
        if (counter) counter.textContent = "Uploading…";
        fetch("/ui/media/upload", { method: "POST", body: data, headers: { "Accept": "application/json" }, credentials: "same-origin" })
          .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
          .then(function (res) {
            if (!res.ok) { alertField(res.body.detail || "The upload failed."); return; }
            mediaId.value = res.body.media_id; mediaName.value = res.body.media_name;
            if (mediaKind && res.body.kind) mediaKind.value = res.body.kind;
            if (mediaUrl) mediaUrl.value = "";
            fileInput.value = "";
            showPreview(res.body.preview, res.body.media_name);
            updateCounter();
          })
          .catch(function () { alertField("The upload failed; try the Upload button."); });
      });
    }

    function alertField(message) {
      var list = document.createElement("ul");
      list.className = "field-error"; list.setAttribute("role", "alert");
      var li = document.createElement("li"); li.textContent = message; list.appendChild(li);
      fileInput.closest("fieldset").appendChild(list);
      updateCounter();
    }

    form.querySelectorAll("[data-clear-media]").forEach(function (b) { b.addEventListener("click", clearMedia); });
    form.querySelectorAll("[data-upload]").forEach(function (b) { b.hidden = true; });
    form.addEventListener("input", updateCounter);
    form.addEventListener("change", function () { updateCounter(); updateZoneLabel(); updateWhen(); });
    updateCounter(); updateZoneLabel(); updateWhen();
  }

  document.addEventListener("DOMContentLoaded", function () { setupAutosubmit(); setupCompose(); });
})();
