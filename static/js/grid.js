/* The handover's grids (the plan; htmx does the row saves):
   - every htmx request carries the page's CSRF token;
   - a row typed into is marked; when the focus leaves it for another row, the row saves itself
     (its button hears "rowleave"), and only its status cell and hidden version are replaced, so
     nothing typed anywhere is lost;
   - a saved row loses its marks (prefilled, error); leaving the page with unsaved rows asks first. */
(function () {
  "use strict";
  function token() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRFToken"] = token();
  });
  function dirtyNote(form) {
    var note = document.getElementById("plan-dirty-note");
    if (note) { note.hidden = !form.querySelector("tr[data-dirty]"); }
  }
  document.addEventListener("input", function (event) {
    var row = event.target.closest("[data-grid] tr[data-row]");
    if (!row) { return; }
    row.setAttribute("data-dirty", "");
    dirtyNote(row.closest("form"));
  });
  document.addEventListener("focusout", function (event) {
    var row = event.target.closest("[data-grid] tr[data-row]");
    if (!row || !row.hasAttribute("data-dirty")) { return; }
    var next = event.relatedTarget;
    if (next && row.contains(next)) { return; }
    var button = row.querySelector(".row-save");
    if (button && window.htmx) { window.htmx.trigger(button, "rowleave"); }
  });
  document.addEventListener("plan-row-saved", function (event) {
    var key = event.detail && event.detail.row;
    var row = key && document.getElementById("client-" + key);
    if (!row) { return; }
    row.removeAttribute("data-dirty");
    row.classList.remove("table-danger", "prefilled-row");
    row.querySelectorAll(".prefilled, .is-invalid").forEach(function (el) {
      el.classList.remove("prefilled", "is-invalid");
    });
    dirtyNote(row.closest("form"));
  });
  var submitting = false;
  document.addEventListener("submit", function (event) {
    if (event.target.matches("[data-grid]")) { submitting = true; }
  });
  window.addEventListener("beforeunload", function (event) {
    if (!submitting && document.querySelector("[data-grid] tr[data-dirty]")) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();
