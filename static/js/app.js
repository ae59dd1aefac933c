/* Behaviour every page shares, in a file: the Content-Security-Policy runs no inline script or
   on... attribute.
   - select[data-autosubmit]: choosing an option submits its form (the language switch).
   - [data-confirm] on a submit button: asks first; the form is sent only when confirmed.
   - Every form, once sent, disables its submit buttons and shows "处理中…" on the one pressed, so
     a slow answer cannot be sent twice; coming back to the page (the back button, which may
     restore it from the browser's cache) makes them usable again. A form that opts out carries
     data-no-busy (say, one whose answer is a download that leaves the page where it is).
   - a submit button with data-then: two steps in one press (see thenStep below).
   - [data-poll-url]: fetched every few seconds, the answer put in its place, until the answer
     no longer asks to be polled (the archived confirmation's progress). */
(function () {
  "use strict";
  var BUSY_TEXT = document.documentElement.lang && document.documentElement.lang.indexOf("zh") === 0 ? "处理中…" : "Working…";
  document.addEventListener("change", function (event) {
    var select = event.target.closest("select[data-autosubmit]");
    if (select && select.form) { select.form.submit(); }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) { event.preventDefault(); }
  });

  function submitButtons(form) {
    var inside = Array.prototype.slice.call(form.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]"));
    var outside = form.id ? Array.prototype.slice.call(document.querySelectorAll("[form=\"" + form.id + "\"][type=submit]")) : [];
    return inside.concat(outside);
  }

  function setBusy(form, pressed) {
    form.dataset.busy = "true";
    submitButtons(form).forEach(function (button) {
      button.disabled = true;
      button.setAttribute("aria-disabled", "true");
    });
    if (pressed && pressed.tagName === "BUTTON" && !pressed.dataset.idleHtml) {
      pressed.dataset.idleHtml = pressed.innerHTML;
      var spinner = document.createElement("span");
      spinner.className = "spinner-border spinner-border-sm me-1";
      spinner.setAttribute("aria-hidden", "true");
      pressed.textContent = BUSY_TEXT;
      pressed.insertBefore(spinner, pressed.firstChild);
    }
  }

  function setIdle(form) {
    delete form.dataset.busy;
    submitButtons(form).forEach(function (button) {
      button.disabled = false;
      button.removeAttribute("aria-disabled");
      if (button.dataset.idleHtml) {
        button.innerHTML = button.dataset.idleHtml;
        delete button.dataset.idleHtml;
      }
    });
  }

  // After every other submit listener (the bubbling phase at the document, added last): a
  // handler that cancels the submission (a check that failed, a confirm() answered no) leaves
  // the buttons as they were.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.hasAttribute("data-no-busy")) { return; }
    if (form.dataset.busy === "true") { event.preventDefault(); return; }
    window.setTimeout(function () {
      if (event.defaultPrevented) { return; }
      // Disabled only now: a button disabled during the submit event would drop its name=value.
      setBusy(form, event.submitter || null);
    }, 0);
  });

  // A button with data-then="<selector>" does two things in one press: its form is sent in the
  // background, and the form the answer page shows at that selector is sent next, as if pressed
  // there (save, then submit for review; confirm all, then sign). The fields named in
  // data-then-carry (the signature drawn here, the password) go along into it. When the answer
  // does not offer it (a refusal, an error on a row), that answer is shown as it came, so nothing
  // typed is lost. Registered once the page has loaded: after every other submit listener (the
  // signature pad's, the grid's wait for row saves), which may still cancel the submission.
  function carry(into, data, names) {
    names.forEach(function (name) {
      var value = data.get(name);
      if (value === null) { return; }
      Array.prototype.forEach.call(into.querySelectorAll("[name=\"" + name + "\"]"), function (input) {
        if (input.type === "radio" || input.type === "checkbox") { input.checked = input.value === value; }
        else { input.value = value; }
      });
    });
  }

  function showAnswer(html) {
    document.open();
    document.write(html);
    document.close();
  }

  function thenStep(event) {
    var form = event.target, button = event.submitter;
    if (event.defaultPrevented || !(form instanceof HTMLFormElement) || !button || !button.dataset.then) { return; }
    event.preventDefault();
    var data = new FormData(form);
    if (button.name) { data.append(button.name, button.value); }
    var action = button.getAttribute("formaction") || form.action;
    setBusy(form, button);
    window.fetch(action, { method: "POST", body: data, credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.text().then(function (html) { return { ok: response.ok, html: html }; }); })
      .then(function (answer) {
        var page = new DOMParser().parseFromString(answer.html, "text/html");
        var next = answer.ok && !page.querySelector("[data-message=error]") ? page.querySelector(button.dataset.then) : null;
        if (!next || next.tagName !== "FORM") { showAnswer(answer.html); return; }
        var copy = document.importNode(next, true);
        carry(copy, data, (button.dataset.thenCarry || "").split(/\s+/).filter(Boolean));
        copy.hidden = true;
        copy.setAttribute("data-no-busy", "");
        document.body.appendChild(copy);
        HTMLFormElement.prototype.submit.call(copy);
      })
      .catch(function () { setIdle(form); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { document.addEventListener("submit", thenStep); });
  } else {
    document.addEventListener("submit", thenStep);
  }

  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    Array.prototype.forEach.call(document.querySelectorAll("form[data-busy]"), setIdle);
  });

  function poll(element) {
    var url = element.getAttribute("data-poll-url");
    if (!url) { return; }
    var delay = parseInt(element.getAttribute("data-poll-every") || "3000", 10);
    window.setTimeout(function () {
      if (!document.body.contains(element)) { return; }
      window.fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
        .then(function (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html.trim();
          var fresh = holder.firstElementChild;
          if (!fresh) { return; }
          element.replaceWith(fresh);
          pollAll(fresh.parentNode || document);
        })
        .catch(function () { window.setTimeout(function () { poll(element); }, delay * 3); });
    }, delay);
  }

  function pollAll(root) {
    Array.prototype.forEach.call(root.querySelectorAll("[data-poll-url]"), function (element) {
      if (element.dataset.polling) { return; }
      element.dataset.polling = "true";
      poll(element);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { pollAll(document); });
  } else {
    pollAll(document);
  }
})();
