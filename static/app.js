// pgforce dashboard behaviour that htmx does not cover. Loaded from 'self' only (CSP forbids inline script).
(function () {
  "use strict";
  // With scripts running, submit buttons that selects make redundant are hidden (.js .js-hide).
  document.documentElement.classList.add("js");

  // Close an open action menu when clicking elsewhere or pressing Escape, so one menu is open at a time.
  document.addEventListener("click", function (ev) {
    document.querySelectorAll("details.menu[open]").forEach(function (d) {
      if (!d.contains(ev.target)) { d.removeAttribute("open"); }
    });
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Escape") { return; }
    document.querySelectorAll("details.menu[open]").forEach(function (d) {
      d.removeAttribute("open");
      var s = d.querySelector("summary");
      if (s) { s.focus(); }
    });
  });

  // <select data-autosubmit> submits its form when changed (connection switcher, filters).
  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) { el.form.requestSubmit(); }
  });

  // A read/write mapping must map the fields Salesforce requires to create a record: while
  // Read/write is chosen their boxes are checked and locked, and a hidden copy sends the field.
  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (!el.matches || !el.matches("input[name=access]") || !el.form) { return; }
    var rw = el.form.querySelector("input[name=access]:checked").value === "read_write";
    el.form.querySelectorAll("input[data-required-create]").forEach(function (box) {
      if (rw) { box.checked = true; }
      box.disabled = rw;
    });
    el.form.querySelectorAll("input[data-required-create-copy]").forEach(function (copy) { copy.disabled = !rw; });
  });

  // <input data-filter="#table"> hides the table's rows that do not contain the typed text.
  document.addEventListener("input", function (ev) {
    var el = ev.target;
    if (!el.matches || !el.matches("input[data-filter]")) { return; }
    var table = document.querySelector(el.getAttribute("data-filter"));
    if (!table) { return; }
    var q = el.value.trim().toLowerCase();
    table.querySelectorAll("tbody tr").forEach(function (tr) {
      tr.hidden = q !== "" && tr.textContent.toLowerCase().indexOf(q) < 0;
    });
  });
  // A table wider than its card scrolls inside it: keyboard users reach it with Tab and scroll it
  // with the arrow keys (it gets tabindex=0 only while it overflows).
  function focusableScrollers() {
    document.querySelectorAll(".table-wrap, table.grid").forEach(function (el) {
      if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1) {
        if (!el.hasAttribute("tabindex")) {
          el.setAttribute("tabindex", "0");
          if (!el.hasAttribute("role")) { el.setAttribute("role", "region"); el.setAttribute("aria-label", "Scrollable table"); }
        }
      } else if (el.getAttribute("tabindex") === "0" && el.getAttribute("aria-label") === "Scrollable table") {
        el.removeAttribute("tabindex"); el.removeAttribute("role"); el.removeAttribute("aria-label");
      }
    });
  }
  focusableScrollers();
  window.addEventListener("resize", focusableScrollers);
  document.addEventListener("htmx:afterSettle", focusableScrollers);
})();
