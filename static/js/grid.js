/* The handover's grids (the plan; htmx does the row saves):
   - every htmx request carries the page's CSRF token;
   - a row typed into is marked; when the focus leaves it for another row, the row saves itself
     (as if its button were pressed), and only its status cell and hidden version are replaced, so
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
    // Only when the person moves on to another row of the grid: focus going to "保存全部" (or
    // anywhere else) leaves the row to that save, so one row is never posted twice at once (the
    // second post would carry the version the first one replaced, and be refused as a conflict).
    var next = event.relatedTarget;
    var nextRow = next && next.closest ? next.closest("tr[data-row]") : null;
    if (!nextRow || nextRow === row || nextRow.closest("[data-grid]") !== row.closest("[data-grid]")) { return; }
    var button = row.querySelector(".row-save");
    if (button) { saveRow(button); }
  });
  // A row's save: the grid form's fields, with only=<the row>, posted to the table's data-save-url;
  // the answer replaces the row's status cell (and, out of band, its version and digest).
  function saveRow(button) {
    var table = button.closest("[data-save-url]");
    if (!table || !window.htmx) { return false; }
    pending += 1;
    window.htmx.ajax("POST", table.getAttribute("data-save-url"), {
      source: button, target: "#st-" + button.value, swap: "innerHTML", values: { only: button.value }
    }).then(rowSaveEnded, rowSaveEnded);
    return true;
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-grid] .row-save") : null;
    if (button && saveRow(button)) { event.preventDefault(); }
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
  // Row saves still on their way: saving the whole grid waits for them (their answers carry the
  // rows' new versions), then goes. Counted per request from the moment it is asked for until its
  // answer is in place (htmx.ajax's promise): htmx's own events fire once per element swapped, the
  // out-of-band version inputs included, and a request queued behind another has not begun yet.
  var pending = 0, waiting = null;
  function rowSaveEnded() {
    pending = Math.max(pending - 1, 0);
    if (pending === 0 && waiting) {
      var go = waiting;
      waiting = null;
      go();
    }
  }
  var submitting = false;
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("[data-grid]")) { return; }
    if (pending > 0) {
      event.preventDefault();
      var submitter = event.submitter || null;
      waiting = function () { form.requestSubmit(submitter); };
      return;
    }
    submitting = true;
  });
  window.addEventListener("beforeunload", function (event) {
    if (!submitting && document.querySelector("[data-grid] tr[data-dirty]")) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();
