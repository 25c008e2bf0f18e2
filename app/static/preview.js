/* Platform previews (templates/_preview.html): redraw each card as the user types. The rules come from the
   cards' data attributes (written by app/web/preview.py), so the numbers live in one place. Without this file
   the server-rendered preview stays as it was when the page loaded. */
(function () {
  "use strict";
  var URL_RE = /https?:\/\/[^\s<>"']+/;

  function length(text, unit) { return unit === "utf16" ? text.length : Array.from(text).length; }

  function cut(text, limit, unit) {
    if (length(text, unit) <= limit) return text;
    if (unit === "utf16") {
      var out = text.slice(0, limit);
      var last = out.charCodeAt(out.length - 1);
      if (last >= 0xD800 && last <= 0xDBFF) out = out.slice(0, -1); // never split a surrogate pair
      return out;
    }
    return Array.from(text).slice(0, limit).join("");
  }

  function firstLink(text, link) {
    if (link) return link;
    var m = URL_RE.exec(text || "");
    return m ? m[0].replace(/[.,;:!?)]+$/, "") : "";
  }

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  function note(parent, text, bad) {
    var p = document.createElement("p");
    p.className = "preview-note" + (bad ? " over" : "");
    p.textContent = text;
    parent.appendChild(p);
  }

  function setup() {
    var root = document.getElementById("platform-preview");
    var textInput = document.querySelector("textarea[name=text]");
    if (!root || !textInput) return;
    var form = textInput.form || document;
    var cards = Array.prototype.slice.call(root.querySelectorAll("[data-preview-card]"));
    var empty = document.getElementById("preview-empty");

    function val(id) { var el = document.getElementById(id); return el ? el.value.trim() : ""; }

    function media() {
      var id = val("media_id"), name = val("media_name"), url = val("media_url"), kind = val("media_kind") || "photo";
      if (id && name) return { kind: kind, image: (kind === "photo" || kind === "animation") ? "/media/" + id + "/" + name : "", label: name };
      if (url) return { kind: kind, image: "", label: url.split("/").pop() || url };
      return null;
    }

    function chosen(card) {
      var box = form.querySelector("input[name=channel_ids][value='" + card.dataset.channelId + "']");
      return box ? box.checked : !card.hidden;
    }

    function draw() {
      var m = media();
      var linkInput = form.querySelector("input[name=link]");
      var anyShown = false;
      cards.forEach(function (card) {
        var d = card.dataset, unit = d.unit === "utf16" ? "utf16" : "chars";
        var shown = chosen(card);
        card.hidden = !shown;
        anyShown = anyShown || shown;
        var override = form.querySelector("textarea[name='override_" + d.channelId + "']");
        var text = (override && override.value.trim()) ? override.value : textInput.value;
        var limit = parseInt(m ? d.captionMax : d.textMax, 10) || 0;
        var fold = parseInt(d.fold, 10) || 0;
        var used = length(text, unit);
        var kept = limit ? cut(text, limit, unit) : text;
        var folded = fold && length(kept, unit) > fold;
        var visible = folded ? cut(kept, fold, unit).replace(/\s+$/, "") : kept;

        var textEl = card.querySelector("[data-preview-text]");
        textEl.textContent = visible;
        if (folded) {
          var more = document.createElement("span");
          more.className = "preview-more"; more.textContent = "… more";
          textEl.appendChild(more);
        }
        card.querySelector("[data-preview-count]").textContent = used + " / " + limit;

        var mediaEl = card.querySelector("[data-preview-media]");
        mediaEl.textContent = "";
        if (m && m.image) {
          var img = document.createElement("img");
          img.src = m.image; img.alt = "First media: " + m.label;
          mediaEl.appendChild(img);
        } else if (m) {
          mediaEl.textContent = "First media: " + m.kind + " · " + m.label;
        }

        var link = firstLink(text, linkInput ? linkInput.value.trim() : "");
        card.querySelector("[data-preview-link]").textContent = link ? "Link: " + link + " — " + d.linkNote : "";

        var notes = card.querySelector("[data-preview-notes]");
        notes.textContent = "";
        var over = limit ? used - limit : 0;
        if (over > 0) {
          var what = (m && d.captionMax !== d.textMax) ? "caption with media" : "text";
          note(notes, plural(over, "character") + " over " + d.label + "'s " + limit + "-character limit for a " +
            what + ": it refuses the post, so shorten the text (the preview stops at the limit).", true);
        }
        if (folded) note(notes, "The feed shows about the first " + fold + " characters, then “… more”.", false);
        if (d.needsMedia === "1" && !m) note(notes, d.label + " needs a photo or a video: a text-only post is refused.", true);
      });
      if (empty) empty.hidden = anyShown;
    }

    form.addEventListener("input", draw);
    form.addEventListener("change", draw);
    document.addEventListener("click", function (e) {  // "remove" of an uploaded file clears hidden fields
      if (e.target && e.target.closest && e.target.closest("[data-clear-media]")) setTimeout(draw, 0);
    });
    var hidden = document.getElementById("media_id");
    if (hidden) {  // an upload by app.js fills the hidden fields without firing an event: watch them
      setInterval(function () { if (hidden.value !== (hidden.dataset.seen || "")) { hidden.dataset.seen = hidden.value; draw(); } }, 500);
    }
    draw();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
