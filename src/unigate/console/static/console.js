// unigate console: small progressive enhancements; every page works without this script.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Forms that ask before they act (deleting a key).
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }

  // Copy buttons: data-copy names the element whose text to copy.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", async () => {
      const text = document.getElementById(button.dataset.copy).textContent;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
      } catch {
        window.getSelection().selectAllChildren(document.getElementById(button.dataset.copy));
      }
    });
  }

  // The Models page filters its rows as you type; the form still works without script.
  const table = document.getElementById("models-table");
  const form = document.getElementById("model-filters");
  if (table && form) {
    const rows = Array.from(table.tBodies[0].rows);
    const count = document.getElementById("model-count");
    const field = (id) => document.getElementById(id);
    const apply = () => {
      const q = field("model-search").value.trim().toLowerCase();
      const type = field("model-type").value;
      const developer = field("model-developer").value;
      const availability = field("model-availability").value;
      let shown = 0;
      for (const row of rows) {
        const d = row.dataset;
        const ok =
          (!q || d.search.includes(q)) &&
          (!type || d.type === type) &&
          (!developer || d.developer === developer) &&
          (availability !== "available" || d.available === "yes") &&
          (availability !== "unavailable" || d.available === "no");
        row.hidden = !ok;
        if (ok) shown += 1;
      }
      count.textContent = `${shown} shown`;
    };
    form.addEventListener("input", apply);
    form.addEventListener("change", apply);
  }

  // The Usage filters apply as soon as one changes.
  const usage = document.getElementById("usage-filters");
  if (usage) usage.addEventListener("change", () => usage.requestSubmit());
});
