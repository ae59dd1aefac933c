/* Signing forms: draw on a pad (mouse, touch or pen; vendored signature_pad) or type the name.
   The drawn signature is posted as a PNG data URL in the hidden "image" field; the server checks
   it again (size, PNG, not empty) and keeps its own re-encoding. */
(function () {
  "use strict";
  if (typeof SignaturePad === "undefined") { return; }

  function setUp(box) {
    var canvas = box.querySelector("canvas.signature-pad");
    var drawn = box.querySelector(".sign-drawn");
    var typed = box.querySelector(".sign-typed");
    var image = box.querySelector('input[name="image"]');
    var empty = box.querySelector(".sign-empty");
    var form = box.closest("form");
    var pad = new SignaturePad(canvas, { backgroundColor: "rgba(0,0,0,0)", penColor: "#0b2a6f", minWidth: 0.8, maxWidth: 2.6 });

    function resize() {
      // Draw at the screen's pixel density so the signature is sharp; resizing clears the pad.
      var ratio = Math.max(window.devicePixelRatio || 1, 1);
      var width = canvas.offsetWidth, height = canvas.offsetHeight;
      if (!width || !height) { return; }
      canvas.width = width * ratio;
      canvas.height = height * ratio;
      canvas.getContext("2d").scale(ratio, ratio);
      pad.clear();
    }

    function method() {
      var checked = box.querySelector("input[data-method]:checked");
      return checked ? checked.value : "typed";
    }

    function show() {
      var isDrawn = method() === "drawn";
      drawn.hidden = !isDrawn;
      typed.hidden = isDrawn;
      if (isDrawn) { resize(); }
    }

    box.querySelectorAll("input[data-method]").forEach(function (radio) { radio.addEventListener("change", show); });
    box.querySelector("[data-clear]").addEventListener("click", function () { pad.clear(); });
    var details = box.closest("details");
    if (details) { details.addEventListener("toggle", function () { if (details.open) { show(); } }); }
    window.addEventListener("resize", function () { if (method() === "drawn" && pad.isEmpty()) { resize(); } });

    form.addEventListener("submit", function (event) {
      if (method() !== "drawn") { image.value = ""; return; }
      if (pad.isEmpty()) {
        event.preventDefault();
        empty.hidden = false;
        return;
      }
      empty.hidden = true;
      image.value = pad.toDataURL("image/png");
    });

    // With the script running, drawing is the first choice.
    var drawRadio = box.querySelector('input[data-method][value="drawn"]');
    drawRadio.checked = true;
    show();
  }

  document.querySelectorAll("[data-signature]").forEach(setUp);
})();
