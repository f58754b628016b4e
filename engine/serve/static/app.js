// kmo-rules pages, made quicker where a script runs; every page works without it.
// Rows are added and removed in place (without it, the server does it), and the
// version in force is shown as the application date changes.
(function () {
  "use strict";

  function versions() {
    var node = document.getElementById("versions-data");
    try { return node ? JSON.parse(node.textContent) : []; } catch (e) { return []; }
  }

  function showVersionInForce() {
    var output = document.getElementById("version-in-force");
    if (!output) { return; }
    var input = document.getElementById("f-" + output.dataset.field);
    var all = versions();
    function update() {
      var day = input.value;
      if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) { output.textContent = "—"; return; }
      var found = null;
      all.forEach(function (v) {
        if (v.effective_from <= day && (v.effective_until === null || day <= v.effective_until)) { found = v; }
      });
      if (!found) { output.textContent = "—"; return; }
      var text = found.effective_until ? output.dataset.fromTo : output.dataset.from;
      output.textContent = text.replace("{version}", found.version).replace("{start}", found.effective_from)
        .replace("{end}", found.effective_until || "");
    }
    if (input) { input.addEventListener("input", update); input.addEventListener("change", update); }
  }

  function nextNumber(list, key) {
    var highest = -1;
    list.querySelectorAll("[data-row]").forEach(function (row) {
      var tail = row.dataset.row.slice(key.length + 1);
      if (/^\d+$/.test(tail)) { highest = Math.max(highest, parseInt(tail, 10)); }
    });
    return highest + 1;
  }

  function addRow(button) {
    var key = button.dataset.add;
    var group = button.closest("[data-rows]");
    var template = group.querySelector("template[data-template]");
    var list = group.querySelector(".row-list");
    var number = nextNumber(list, key);
    var html = template.innerHTML.split("__N__").join(String(number))
      .split("__M__").join(String(list.querySelectorAll("[data-row]").length + 1));
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    var row = holder.firstElementChild;
    list.appendChild(row);
    var first = row.querySelector("input, select");
    if (first) { first.focus(); }
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("button[data-add]");
    if (add) { event.preventDefault(); addRow(add); return; }
    var remove = event.target.closest("button[data-remove]");
    if (remove) { event.preventDefault(); remove.closest("[data-row]").remove(); }
  });

  document.addEventListener("DOMContentLoaded", showVersionInForce);
})();
