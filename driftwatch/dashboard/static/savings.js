// The savings ledger section of the dashboard: GET /v1/savings drawn with uPlot (a bar per UTC day of
// net savings, and a table per class). Kept apart from dashboard.js: it reloads whenever the page has
// drawn the dashboard (the body's data-state turns "ready"), for the class the page's filter shows.
// Every value from the server goes into the page as text, never as HTML.
"use strict";

(() => {
  const KEY_STORAGE = "driftwatch.apiKey";
  const DASH = "—";
  const section = document.getElementById("savings");
  const byId = (id) => document.getElementById(id);
  const color = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const seconds = (day) => Date.parse(`${day}T00:00:00Z`) / 1000;
  const intFormat = new Intl.NumberFormat("en-US");
  // Money as the rest of the page writes it (dashboard.js's usd): one format on the whole page.
  const usd = (value) => window.usd(value);
  const count = (value) => (value === null || value === undefined ? DASH : intFormat.format(value));
  const cell = (text, cls) => {
    const node = document.createElement("td");
    if (cls) node.className = cls;
    node.textContent = text;
    return node;
  };
  let chart = null;
  let loading = false;
  let again = false; // asked for while loading: load once more after, for the class shown by then

  async function load() {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    section.dataset.state = "loading";
    const query = new URLSearchParams();
    const taskClass = new URLSearchParams(location.search).get("task_class");
    if (taskClass) query.set("task_class", taskClass);
    const key = localStorage.getItem(KEY_STORAGE);
    try {
      const response = await fetch(`v1/savings?${query}`, { headers: key ? { Authorization: `Bearer ${key}` } : {} });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(`${response.status}: ${body.detail || response.statusText}`);
      render(body);
      byId("savings-error").hidden = true;
      section.dataset.state = "ready";
    } catch (error) {
      byId("savings-error").textContent = `savings: ${error.message}`;
      byId("savings-error").hidden = false;
      section.dataset.state = "error";
    } finally {
      loading = false;
      if (again) {
        again = false;
        load();
      }
    }
  }

  function render(data) {
    byId("savings-reference").textContent = `${data.reference_tier}, ${data.reference_model || "no model set"}`;
    drawChart(data);
    const notices = byId("savings-notices");
    notices.textContent = data.notices.join(" ");
    notices.hidden = !data.notices.length;
    const rows = data.classes.map((entry) => {
      const terms = entry.totals;
      const row = document.createElement("tr");
      row.dataset.class = entry.task_class;
      row.append(
        cell(entry.task_class),
        cell(count(terms.calls), "num"),
        cell(usd(terms.spend_usd), "num"),
        cell(usd(terms.counterfactual_usd), "num"),
        cell(usd(terms.shadow_usd), "num"),
        cell(usd(terms.promotion_cost_usd), "num"),
        cell(usd(terms.net_usd), "num"),
        cell(count(terms.unpriced_calls), "num"),
      );
      return row;
    });
    if (!rows.length) {
      const empty = cell("no calls in these days", "empty");
      empty.colSpan = 8;
      rows.push(document.createElement("tr"));
      rows[0].append(empty);
    }
    byId("savings-classes").querySelector("tbody").replaceChildren(...rows);
  }

  function drawChart(data) {
    const holder = byId("savings-chart");
    const xs = data.days.map((day) => seconds(day.day) + 43200);
    const net = data.days.map((day) => day.net_usd);
    const text = color("--text");
    const grid = color("--line");
    const axis = (values) => ({ stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, values });
    const options = {
      width: Math.max(300, holder.clientWidth - 20),
      height: 220,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      scales: {
        x: { time: true, range: () => [seconds(data.since), seconds(data.until)] },
        y: { range: (u, min, max) => [Math.min(min ?? 0, 0) * 1.1, Math.max(max ?? 0, 0.01) * 1.1] },
      },
      axes: [axis(), { ...axis((u, ticks) => ticks.map(usd)), size: 72 }],
      series: [
        {},
        {
          label: "net savings",
          stroke: color("--good"),
          fill: `${color("--good")}80`,
          paths: uPlot.paths.bars({ size: [0.6, 60] }),
          points: { show: false },
          value: (u, v) => usd(v),
        },
      ],
    };
    if (chart) chart.destroy();
    holder.replaceChildren();
    chart = new uPlot(options, [xs, net], holder);
    window.driftwatchSavingsChart = chart; // for tests and the curious
  }

  // The dashboard sets the body's data-state to "ready" each time it has drawn (first load, the class
  // filter, an API key entered, the minute's refresh): reload with it.
  new MutationObserver(() => {
    if (document.body.dataset.state === "ready") load();
  }).observe(document.body, { attributes: true, attributeFilter: ["data-state"] });
  addEventListener("resize", () => chart && chart.setSize({ width: Math.max(300, byId("savings-chart").clientWidth - 20), height: 220 }));
})();
