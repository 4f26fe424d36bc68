/* davcontacts admin: small progressive enhancements. Every page works without it. */
(function () {
  "use strict";

  // Buttons that ask first (delete, deactivate).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  // Selects that submit their form when changed (sort, group access).
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-autosubmit]") && event.target.form) {
      event.target.form.submit();
    }
  });

  // On a phone the filters start folded, unless one of them is in use.
  var filters = document.querySelector("details.filters");
  if (filters && window.matchMedia("(max-width: 760px)").matches &&
      !filters.querySelector(".facet a[aria-current]:not([data-default])")) {
    filters.open = false;
  }

  // Bulk selection on the contacts page.
  var selectAll = document.querySelector("[data-select-all]");
  var counter = document.querySelector("[data-selected-count]");
  function rowBoxes() {
    return Array.prototype.slice.call(document.querySelectorAll('input[name="ids"][form="bulk"]'));
  }
  function updateCount() {
    if (!counter) { return; }
    var boxes = rowBoxes();
    var n = boxes.filter(function (b) { return b.checked; }).length;
    counter.textContent = n ? n + " selected" : "Select";
    if (selectAll) {
      selectAll.checked = n > 0 && n === boxes.length;
      selectAll.indeterminate = n > 0 && n < boxes.length;
    }
    var bulk = document.getElementById("bulk");
    if (bulk) { bulk.classList.toggle("has-selection", n > 0); }
  }
  if (selectAll) {
    selectAll.addEventListener("change", function () {
      rowBoxes().forEach(function (b) { b.checked = selectAll.checked; });
      updateCount();
    });
    document.addEventListener("change", function (event) {
      if (event.target.matches('input[name="ids"]')) { updateCount(); }
    });
    updateCount();
  }

  // Repeating rows (emails, phones, addresses) on the contact form.
  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var name = add.getAttribute("data-add-row");
      var template = document.getElementById("tpl-" + name);
      var rows = document.getElementById("rows-" + name);
      if (template && rows) {
        var clone = template.content.cloneNode(true);
        var first = clone.querySelector("input:not([type=hidden])");
        rows.appendChild(clone);
        if (first) { rows.lastElementChild.querySelector("input:not([type=hidden])").focus(); }
      }
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) {
      var row = remove.closest(".multi-row, .address-row");
      if (!row) { return; }
      if (row.parentNode.children.length > 1) {
        row.parentNode.removeChild(row);
      } else {
        row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      }
    }
  });

  // A password shown once: a Copy button next to it (where the clipboard is available).
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var secret = button.parentNode.querySelector("[data-secret]");
    if (!secret || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(secret.textContent.trim()).then(function () {
        button.textContent = "Copied";
      }, function () { /* the text stays selectable */ });
    });
  });

  // Pickers: suggestions from the server for company, reports-to and group members.
  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments, self = this;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(self, args); }, ms);
    };
  }
  document.querySelectorAll("input[data-suggest]").forEach(function (input) {
    var list = input.list;
    var idField = input.getAttribute("data-id-field");
    var hidden = idField ? input.form.querySelector('input[name="' + idField + '"]') : null;
    var ids = {};
    function syncId() {
      if (hidden) { hidden.value = ids[input.value] || ""; }
    }
    var load = debounce(function () {
      var api = input.getAttribute("data-api");
      var url = api + (api.indexOf("?") < 0 ? "?" : "&") + "kind=" + encodeURIComponent(input.getAttribute("data-suggest")) +
        "&q=" + encodeURIComponent(input.value);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : []; })
        .then(function (items) {
          if (!list) { return; }
          list.textContent = "";
          ids = {};
          items.forEach(function (item) {
            var option = document.createElement("option");
            option.value = item.name;
            if (item.org) { option.label = item.org; }
            list.appendChild(option);
            if (!(item.name in ids)) { ids[item.name] = String(item.id); }
          });
          syncId();
        })
        .catch(function () { /* suggestions are a convenience */ });
    }, 150);
    input.addEventListener("input", function () { syncId(); load(); });
    input.addEventListener("focus", load, { once: true });
  });
})();
