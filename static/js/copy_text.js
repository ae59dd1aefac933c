/* The client notice tab: a button[data-copy-target] copies the text of the element whose id it
   names (the SMS / WeChat text) and says so for a moment. A file, for the Content-Security-Policy. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy-target]");
    if (!button) { return; }
    event.preventDefault();
    var source = document.getElementById(button.dataset.copyTarget);
    if (!source) { return; }
    var text = source.value !== undefined ? source.value : source.textContent;
    var label = button.textContent;
    function done() {
      button.textContent = button.dataset.copied || label;
      window.setTimeout(function () { button.textContent = label; }, 2000);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { source.select(); document.execCommand("copy"); done(); });
    } else {
      source.select();
      document.execCommand("copy");
      done();
    }
  });
})();
