/* Behaviour every page shares, in a file: the Content-Security-Policy runs no inline script or
   on... attribute.
   - select[data-autosubmit]: choosing an option submits its form (the language switch).
   - [data-confirm] on a submit button: asks first; the form is sent only when confirmed. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var select = event.target.closest("select[data-autosubmit]");
    if (select && select.form) { select.form.submit(); }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) { event.preventDefault(); }
  });
})();
