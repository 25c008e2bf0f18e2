/* smm-scheduler: drag a calendar entry (or a draft from the tray) to another day or hour to reschedule it.
   It posts to /calendar/move, the same endpoint as each entry's "Move" form, so nothing here is needed to move
   a post: without JavaScript, or from the keyboard, the Move link (⇄) does the same. */
(function () {
  "use strict";

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function setup() {
    var root = document.getElementById("planner");
    if (!root || !window.fetch || !window.FormData) return;
    var status = document.getElementById("calendar-status");
    var dragged = null;
    root.classList.add("can-drag");

    function say(message, bad) {
      if (!status) return;
      status.textContent = message;
      status.className = "calendar-status banner " + (bad ? "banner-error" : "banner-success");
      status.setAttribute("role", bad ? "alert" : "status");
    }

    function dropTarget(ev) {
      var el = ev.target && ev.target.closest ? ev.target.closest("[data-drop]") : null;
      return el && root.contains(el) && el.dataset.drop !== "tray" ? el : null;
    }

    function clearOver() {
      root.querySelectorAll(".drop-over").forEach(function (el) { el.classList.remove("drop-over"); });
    }

    // the new wall-clock time: by day the post keeps its hour and minute; by hour it keeps its minute;
    // a draft (no time yet) gets the tray's default on a day, the hour itself on the week grid
    function timeFor(target, entry) {
      var time = entry.dataset.time || "";
      var timed = /^\d\d:\d\d$/.test(time);
      if (target.dataset.hour !== undefined) {
        return pad(parseInt(target.dataset.hour, 10)) + ":" + (timed ? time.slice(3) : "00");
      }
      return timed ? time : (root.dataset.draftTime || "09:00");
    }

    function move(entry, target) {
      var day = target.dataset.date;
      var time = timeFor(target, entry);
      if (entry.dataset.date === day && entry.dataset.time === time) return;
      var data = new FormData();
      data.append("csrf_token", root.dataset.csrf);
      data.append("post_id", entry.dataset.postId);
      data.append("date", day);
      data.append("time", time);
      data.append("back", root.dataset.back);
      say("Moving…", false);
      fetch(root.dataset.moveUrl, { method: "POST", body: data, credentials: "same-origin",
                                    headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
        .then(function (res) {
          if (res.ok) { say(res.body.message || "Moved.", false); window.location.assign(res.body.redirect); return; }
          say("Not moved: " + (res.body.detail || "the post could not be moved."), true);
        })
        .catch(function () { say("Not moved: the service did not answer. Try again, or use the Move link.", true); });
    }

    root.addEventListener("dragstart", function (ev) {
      var entry = ev.target && ev.target.closest ? ev.target.closest("[data-post-id]") : null;
      if (!entry) return;
      dragged = entry;
      entry.classList.add("dragging");
      ev.dataTransfer.effectAllowed = "move";
      ev.dataTransfer.setData("text/plain", entry.dataset.postId);
    });
    root.addEventListener("dragend", function () {
      if (dragged) dragged.classList.remove("dragging");
      dragged = null;
      clearOver();
    });
    root.addEventListener("dragover", function (ev) {
      var target = dropTarget(ev);
      if (!target || !dragged) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = "move";
      if (!target.classList.contains("drop-over")) { clearOver(); target.classList.add("drop-over"); }
    });
    root.addEventListener("drop", function (ev) {
      var target = dropTarget(ev);
      if (!target || !dragged) return;
      ev.preventDefault();
      var entry = dragged;
      clearOver();
      move(entry, target);
    });
  }

  // the filter form leaves out the filters set to "all", so the addresses stay short and shareable
  function setupFilters() {
    var form = document.querySelector("form.calendar-filters");
    if (!form) return;
    form.addEventListener("formdata", function (ev) {
      ["channel", "rubric", "status"].forEach(function (name) {
        if (!ev.formData.get(name)) ev.formData.delete(name);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { setup(); setupFilters(); });
})();
