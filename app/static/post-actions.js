// The post page's confirmations as dialogs: "Cancel post" and "Delete post" are links to a confirmation step
// (which works without JavaScript); with JavaScript the same question opens in a modal <dialog> instead.
(function () {
  "use strict";
  function setup() {
    document.querySelectorAll("[data-confirm-open]").forEach(function (link) {
      var dialog = document.getElementById(link.getAttribute("data-confirm-open"));
      if (!dialog || typeof dialog.showModal !== "function") return;
      link.addEventListener("click", function (event) {
        event.preventDefault();
        dialog.showModal();
        var first = dialog.querySelector("button");
        if (first) first.focus();
      });
      dialog.querySelectorAll("[data-confirm-close]").forEach(function (close) {
        close.addEventListener("click", function (event) { event.preventDefault(); dialog.close(); link.focus(); });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", setup);
})();
