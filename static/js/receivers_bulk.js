/* Receivers in bulk: a checkbox [data-check-all="<form id>"] ticks or clears every client checkbox
   (name="hc") that belongs to that form. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var all = event.target.closest("input[data-check-all]");
    if (!all) { return; }
    var boxes = document.querySelectorAll('input[name="hc"][form="' + all.dataset.checkAll + '"]');
    boxes.forEach(function (box) { box.checked = all.checked; });
  });
})();
