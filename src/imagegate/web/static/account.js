// The account page: balance, 30 days of spend and images, recent requests (the library is library.js).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const errorBox = $("error");

  const cell = (row, text, code, label) => {
    const td = document.createElement("td");
    if (label) td.dataset.label = label;
    if (code) { const c = document.createElement("code"); c.textContent = text; td.append(c); } else td.textContent = text;
    row.append(td);
  };

  const load = async () => {
    errorBox.hidden = true;
    if (!imagegateKey.get()) return;
    try {
      const [{ data: account }, { data: activity }] = await Promise.all([imagegateApi("/v1/account"), imagegateApi("/v1/account/activity")]);
      $("balance-value").textContent = imagegateUsd(account.balance_micros);
      $("held-value").textContent = imagegateUsd(account.held_micros);
      $("key-value").textContent = `${account.key.mode} key ${account.key.id}`;
      const budget = account.key.budget;
      $("budget-value").textContent = budget
        ? `${imagegateUsd(budget.spent_micros)} spent of ${imagegateUsd(budget.budget_micros)} per ${budget.period} (${imagegateUsd(budget.held_micros)} held), resets ${budget.resets_at}`
        : "none";
      imagegateChart($("spend-chart"), activity.days);
      imagegateChart($("images-chart"), activity.days);
      const body = $("recent").querySelector("tbody");
      body.textContent = "";
      for (const r of activity.recent) {
        const row = document.createElement("tr");
        cell(row, r.time.slice(0, 19).replace("T", " "), false, "Time");
        cell(row, r.error_code ? `${r.status} ${r.error_code}` : String(r.status), false, "Status");
        cell(row, r.model || "—", Boolean(r.model), "Model");
        cell(row, r.size || "—", false, "Size");
        cell(row, `${r.delivered}/${r.n ?? "—"}`, false, "Images");
        cell(row, imagegateUsd(r.cost_micros), false, "Cost");
        cell(row, r.block_category || "—", false, "Block");
        body.append(row);
      }
      if (!activity.recent.length) {
        const row = document.createElement("tr");
        const td = document.createElement("td");
        td.colSpan = 7;
        td.className = "empty";
        td.textContent = "Nothing yet: no requests in the last 30 days.";
        row.append(td);
        body.append(row);
      }
    } catch (error) {
      imagegateShowError(errorBox, error);
    }
  };
  imagegateKey.onChange(() => { errorBox.hidden = true; load(); });
  load();
})();
