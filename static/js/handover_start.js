/* The start form: the receiver list never offers the person chosen as the departing salesperson,
   nor the witness or manager chosen. The server leaves them out too once they are sent
   (handover/forms.py HandoverStartForm) and refuses them in any case (check_receiver). */
(function () {
  "use strict";
  var form = document.querySelector("form[data-start-form]");
  if (!form) { return; }
  var receiver = form.querySelector("select[name=receiver]");
  if (!receiver) { return; }
  var others = ["departing", "witness", "manager"].map(function (name) {
    return form.querySelector("select[name=" + name + "]");
  }).filter(Boolean);

  function update() {
    var taken = others.map(function (select) { return select.value; }).filter(Boolean);
    Array.prototype.forEach.call(receiver.options, function (option) {
      var out = option.value !== "" && taken.indexOf(option.value) !== -1;
      option.hidden = out;
      option.disabled = out;
    });
    var selected = receiver.options[receiver.selectedIndex];
    if (selected && selected.disabled) { receiver.value = ""; }
  }

  others.forEach(function (select) { select.addEventListener("change", update); });
  update();
})();
