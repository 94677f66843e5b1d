// Shows /healthz, refreshed every 5 seconds.
"use strict";
async function refresh() {
  let health;
  try {
    health = await (await fetch("/healthz", { cache: "no-store" })).json();
  } catch (err) {
    health = { database: "unreachable", asterisk: { ami: "unreachable", ari: "unreachable", synced_at: null } };
  }
  const values = { database: health.database, ...health.asterisk };
  for (const cell of document.querySelectorAll("td[data-part]")) {
    const value = values[cell.dataset.part];
    cell.textContent = value === null || value === undefined ? "not yet" : value;
    cell.className = value === "ok" || value === "connected" ? "ok"
      : value === "disconnected" || value === "unavailable" || value === "unreachable" ? "down" : "";
  }
}
refresh();
setInterval(refresh, 5000);
