// The driftwatch dashboard: fetches GET /v1/dashboard and draws it with uPlot. No build step.
// Every value from the server goes into the page as text (never as HTML): class names, reasons and
// webhook errors come from outside.
"use strict";

const KEY_STORAGE = "driftwatch.apiKey";
const REFRESH_MS = 60_000;
const RANGES = ["15m", "1h", "24h", "7d", "30d"];
const RANGE_NAMES = { "15m": "last 15 minutes", "1h": "last hour", "24h": "last 24 hours", "7d": "last 7 days", "30d": "last 30 days" };
const state = {
  range: null, // null: the server picks the range that fits the data; a click or ?range= sets one

  taskClass: "",
  classes: new Set(),
  charts: [],
  timer: null,
};
window.driftwatchCharts = state.charts; // for tests and the curious: the uPlot instances on the page

const $ = (id) => document.getElementById(id);
const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

// ---- formatting -----------------------------------------------------------------------------
const DASH = "—";
const intFormat = new Intl.NumberFormat("en-US");
// Dollars: always cents with thousands separators ($12,345.67); below a cent, two significant
// digits ($0.0042), so a replay's cost does not read as $0.00.
const centsFormat = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });
const tinyFormat = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumSignificantDigits: 2 });
function usd(value) {
  if (value === null || value === undefined) return DASH;
  return (value !== 0 && Math.abs(value) < 0.01 ? tinyFormat : centsFormat).format(value);
}
const int = (value) => (value === null || value === undefined ? DASH : intFormat.format(value));
const pct = (value) => (value === null || value === undefined ? DASH : `${(value * 100).toFixed(1)}%`);
const seconds = (iso) => Date.parse(iso) / 1000;

// Times: "Dec 3, 14:05 UTC" (with seconds where they matter), and "3 min ago" for the last day.
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const two = (number) => String(number).padStart(2, "0");
function clock(iso, withSeconds = false) {
  if (!iso) return DASH;
  const at = new Date(iso);
  const time = `${two(at.getUTCHours())}:${two(at.getUTCMinutes())}${withSeconds ? `:${two(at.getUTCSeconds())}` : ""}`;
  return `${MONTHS[at.getUTCMonth()]} ${at.getUTCDate()}, ${time} UTC`;
}
function ago(iso) {
  if (!iso) return DASH;
  const gone = (Date.now() - Date.parse(iso)) / 1000;
  if (gone < 0 || gone >= 86400) return clock(iso);
  if (gone < 60) return "just now";
  if (gone < 3600) return `${Math.floor(gone / 60)} min ago`;
  return `${Math.floor(gone / 3600)} h ago`;
}
// A moment in a table: how long ago, with the exact time on hover.
const whenCell = (iso) => el("td", { title: clock(iso, true) }, ago(iso));
// Reasons and messages written by the server may carry ISO timestamps; people read them as clock().
const ISO_MOMENT = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?/g;
const humanTimes = (text) => (text ? String(text).replace(ISO_MOMENT, (iso) => clock(/Z|[+-]\d{2}:\d{2}$/.test(iso) ? iso : `${iso}Z`, true)) : "");

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}
const cell = (text, cls) => el("td", cls ? { class: cls } : {}, text);
const badge = (text, status = text) => el("span", { class: `badge status-${String(status).replace(/\s+/g, "-")}` }, text);

function fillTable(id, rows, columns) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren(
    ...(rows.length ? rows.map((row) => el("tr", {}, ...columns(row))) : [el("tr", {}, el("td", { class: "empty", colspan: "20" }, "none"))]),
  );
}

// ---- colours --------------------------------------------------------------------------------
function tierColor(tiers, tier) {
  const index = tiers.indexOf(tier);
  return css(index < 0 ? "--tier-none" : `--tier-${Math.min(index, 3)}`);
}
const translucent = (hex, alpha) => hex + Math.round(alpha * 255).toString(16).padStart(2, "0");
const MARKER_COLORS = { promoted: "--bad", degraded: "--bad", demoted: "--good", accepted: "--good", recommended: "--accent", "model.changed": "--warn" };

// ---- loading --------------------------------------------------------------------------------
async function load() {
  clearTimeout(state.timer);
  const query = new URLSearchParams();
  if (state.range) query.set("range", state.range);
  if (state.taskClass) query.set("task_class", state.taskClass);
  history.replaceState(null, "", query.size ? `?${query}` : location.pathname);
  const key = localStorage.getItem(KEY_STORAGE);
  let response;
  try {
    response = await fetch(`v1/dashboard?${query}`, { headers: key ? { Authorization: `Bearer ${key}` } : {} });
  } catch (error) {
    return showError(`cannot reach driftwatch: ${error.message}`);
  }
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) return askForKey(key ? body.detail || "this key was refused" : null);
  if (!response.ok) return showError(`${response.status}: ${body.detail || response.statusText}`);
  $("error").hidden = true;
  $("key-form").hidden = true;
  $("change-key").hidden = !key;
  render(body);
  state.timer = setTimeout(load, REFRESH_MS);
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
  document.body.dataset.state = "error";
}

function askForKey(problem) {
  $("content").hidden = true;
  $("key-form").hidden = false;
  $("key-error").hidden = !problem;
  $("key-error").textContent = problem || "";
  $("key-input").focus();
  document.body.dataset.state = "needs-key";
}

// ---- rendering ------------------------------------------------------------------------------
// The page's sections, top to bottom: each draws its part of the document (add new ones here).
const SECTIONS = [renderCards, renderClasses, renderCoverage, renderDecisions, renderRecommendations, renderAcceptance, renderVolume, renderShadow, renderDeliveries];

function render(data) {
  $("content").hidden = false;
  for (const button of document.querySelectorAll("#ranges button")) {
    button.setAttribute("aria-pressed", String(button.dataset.range === data.range));
  }
  data.classes.forEach((panel) => state.classes.add(panel.task_class));
  const filter = $("class-filter");
  const names = [...state.classes].sort();
  filter.replaceChildren(el("option", { value: "" }, "all classes"), ...names.map((name) => el("option", { value: name }, name)));
  filter.value = state.taskClass;
  const fitted = state.range ? "" : " (fits the data)";
  $("updated").textContent = `${RANGE_NAMES[data.range] || data.range}${fitted}: ${clock(data.since)} – ${clock(data.until)} · updated ${ago(data.generated_at)}`;
  $("updated").title = `updated ${clock(data.generated_at, true)}`;
  for (const node of document.querySelectorAll(".bucket")) node.textContent = data.bucket;
  // The panels are the busiest classes; a store with more says so (GET /v1/dashboard?offset= pages on).
  $("class-notices").textContent = (data.notices || []).join(" ");
  $("class-notices").hidden = !(data.notices || []).length;
  state.charts.splice(0).forEach((chart) => chart.destroy());
  for (const section of SECTIONS) section(data);
  document.body.dataset.state = "ready";
}

function renderCards(data) {
  const savings = data.savings;
  $("saved").textContent = usd(savings.achieved_usd);
  $("saved-detail").textContent =
    savings.achieved_usd === null
      ? savings.reason
      : `${usd(savings.would_have_cost_usd)} on ${savings.top_tier} (${savings.top_model}) vs ${usd(savings.cost_usd)} paid` +
        (savings.left_out_calls ? `; ${int(savings.left_out_calls)} calls not counted` : "");
  $("at-risk").textContent = usd(savings.at_risk_usd);
  const promoted = new Set(data.classes.filter((panel) => panel.state.state === "promoted").map((panel) => panel.task_class));
  $("at-risk-detail").textContent = savings.degraded_classes.length
    ? `saved on a degraded tier by ${savings.degraded_classes.map((name) => (promoted.has(name) ? `${name} (since promoted)` : name)).join(", ")}`
    : "no class degraded in this range";
  $("recommended").textContent = `${usd(savings.recommended_monthly_usd)}/mo`;
  $("recommended-detail").textContent = `${savings.open_recommendations} open recommendation(s)`;
  const calls = data.volume.reduce((sum, tier) => sum + tier.calls, 0);
  $("spend").textContent = usd(data.volume.reduce((sum, tier) => sum + tier.cost_usd, 0));
  $("spend-detail").textContent = `${int(calls)} calls`;
  const shadow = data.shadow;
  $("shadow").textContent = `${usd(shadow.spent_usd)} of ${usd(shadow.budget_usd)}`;
  const share = shadow.budget_usd > 0 ? shadow.spent_usd / shadow.budget_usd : 0;
  $("shadow-meter").style.width = `${Math.min(100, share * 100)}%`;
  $("shadow-meter").classList.toggle("over", share >= 1);
  $("shadow-detail").textContent = `${pct(share)} of the budget of ${shadow.days.length} day(s)`;
  const hooks = data.webhooks;
  $("webhooks").textContent = `${int(hooks.delivered)} delivered`;
  $("webhooks-detail").textContent = `${int(hooks.pending)} pending · ${int(hooks.failed)} failed`;
}

function acceptanceText(tally) {
  if (!tally.evaluations) return "no evaluations";
  const interval = tally.acceptance_interval;
  return `${pct(tally.acceptance_rate)} (${pct(interval.low)}–${pct(interval.high)}) of ${int(tally.evaluations)}`;
}

function renderClasses(data) {
  fillTable("classes", data.classes, (panel) => {
    const detection = panel.detection;
    const route = panel.route;
    return [
      cell(panel.task_class),
      el("td", {}, route.tier, route.pinned ? " 📌" : ""),
      el("td", {}, badge(panel.state.label, panel.state.state)),
      cell(acceptanceText(panel.evaluation), "num"),
      cell(detection && detection.reference_rate !== null ? `${pct(detection.reference_rate)} ${detection.reference_source}` : DASH, "num"),
      cell(int(panel.calls), "num"),
      cell(usd(panel.cost_usd), "num"),
      cell(usd(panel.savings_usd), "num"),
      cell(`${usd(panel.shadow.spent_today_usd)} / ${usd(panel.shadow.daily_budget_usd)}`, "num"),
      cell(humanTimes(panel.shadow.notice || panel.state.detail), "reason"),
    ];
  });
}

// Coverage: the summary line over the class table, and a last column per class (its own function, so
// the table's other columns can change without it).
function renderCoverage(data) {
  const summary = data.coverage;
  $("coverage-summary").textContent = summary ? summary.text : "";
  $("coverage-summary").hidden = !summary;
  const rows = $("classes").querySelectorAll("tbody tr");
  data.classes.forEach((panel, index) => {
    const coverage = panel.coverage;
    // One short line per row keeps the table (and the decisions under it) compact; the whole
    // explanation is the cell's tooltip.
    let text = "not assessed yet";
    if (coverage && coverage.protected) text = `protected: catches a ${coverage.min_detectable_drop.toFixed(2)} drop`;
    else if (coverage && coverage.min_detectable_drop !== null) text = `unprotected: catches ${coverage.min_detectable_drop.toFixed(2)} now`;
    else if (coverage) text = "unprotected";
    const attributes = { class: `coverage ${coverage && coverage.protected ? "protected" : "unprotected"}` };
    if (coverage) attributes.title = coverage.message;
    if (rows[index]) rows[index].append(el("td", attributes, text));
  });
}

// Time axes in the page's own words: 24-hour UTC clock within a day, "Dec 3" across days.
function timeTicks(chart, ticks) {
  const span = ticks.length > 1 ? ticks[ticks.length - 1] - ticks[0] : 0;
  return ticks.map((tick) => {
    const at = new Date(tick * 1000);
    const time = `${two(at.getUTCHours())}:${two(at.getUTCMinutes())}`;
    if (span > 2 * 86400) return at.getUTCHours() === 0 && at.getUTCMinutes() === 0 ? `${MONTHS[at.getUTCMonth()]} ${at.getUTCDate()}` : time;
    return span < 600 ? `${time}:${two(at.getUTCSeconds())}` : time;
  });
}

function chartOptions(container, data, series, extra = {}) {
  const text = css("--text");
  const grid = css("--line");
  const axis = (values) => ({ stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, values });
  return {
    width: Math.max(300, container.clientWidth - 20),
    height: 220,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
    scales: { x: { time: true, range: () => [seconds(data.since), seconds(data.until)] }, ...(extra.scales || {}) },
    axes: [axis(timeTicks), { ...axis(extra.yValues), size: 64 }],
    series: [{}, ...series],
    ...(extra.bands ? { bands: extra.bands } : {}),
    ...(extra.plugins ? { plugins: extra.plugins } : {}),
  };
}

function markersPlugin(markers) {
  return {
    hooks: {
      draw: [
        (chart) => {
          const ctx = chart.ctx;
          const ratio = devicePixelRatio || 1;
          ctx.save();
          markers.forEach((marker, index) => {
            const x = Math.round(chart.valToPos(seconds(marker.at), "x", true));
            if (x < chart.bbox.left || x > chart.bbox.left + chart.bbox.width) return;
            const colour = css(MARKER_COLORS[marker.kind] || "--muted");
            ctx.strokeStyle = ctx.fillStyle = colour;
            ctx.lineWidth = ratio;
            ctx.setLineDash([4 * ratio, 3 * ratio]);
            ctx.beginPath();
            ctx.moveTo(x, chart.bbox.top);
            ctx.lineTo(x, chart.bbox.top + chart.bbox.height);
            ctx.stroke();
            ctx.font = `${11 * ratio}px system-ui, sans-serif`;
            const label = marker.to_tier && marker.from_tier !== marker.to_tier ? `${marker.kind} → ${marker.to_tier}` : marker.kind;
            ctx.fillText(label, x + 3 * ratio, chart.bbox.top + (12 + 13 * (index % 3)) * ratio);
          });
          ctx.restore();
        },
      ],
    },
  };
}

function renderAcceptance(data) {
  const holder = $("acceptance");
  holder.replaceChildren();
  const xs = data.buckets.map(seconds);
  const shown = data.classes.filter((panel) => panel.acceptance.length || panel.markers.length);
  if (!shown.length) holder.append(el("p", { class: "empty" }, "no evaluations in this window"));
  for (const panel of shown) {
    const card = el("div", { class: "chart-card", "data-class": panel.task_class }, el("h3", {}, panel.task_class));
    holder.append(card);
    const columns = [xs];
    const series = [];
    const bands = [];
    const hidden = [];
    for (const line of panel.acceptance) {
      const colour = tierColor(data.tiers, line.tier);
      const label = line.tier || "no tier";
      const at = columns.length;
      columns.push(line.rate, line.low, line.high);
      series.push(
        { label: `${label} acceptance`, stroke: colour, width: 2, points: { show: true, size: 5, fill: colour }, value: (u, v) => pct(v) },
        { label: `${label} low`, stroke: translucent(colour, 0.35), width: 1, points: { show: false }, value: (u, v) => pct(v) },
        { label: `${label} high`, stroke: translucent(colour, 0.35), width: 1, points: { show: false }, value: (u, v) => pct(v) },
      );
      bands.push({ series: [at + 2, at + 1], fill: translucent(colour, 0.18) });
      hidden.push(at + 1, at + 2);
    }
    const detection = panel.detection;
    if (detection && detection.reference_rate !== null) {
      columns.push(xs.map(() => detection.reference_rate));
      series.push({ label: `reference (${detection.reference_source}, ${detection.tier})`, stroke: css("--muted"), dash: [6, 4], width: 1.5, points: { show: false }, value: (u, v) => pct(v) });
    }
    const options = chartOptions(card, data, series, {
      bands,
      plugins: [markersPlugin(panel.markers)],
      scales: { y: { range: (u, min, max) => [Math.max(0, Math.min(min ?? 1, max ?? 1) - 0.05), 1] } },
      yValues: (u, ticks) => ticks.map((tick) => `${Math.round(tick * 100)}%`),
    });
    const chart = new uPlot(options, columns, card);
    const rows = chart.root.querySelectorAll(".u-legend .u-series");
    hidden.forEach((index) => rows[index] && (rows[index].style.display = "none"));
    state.charts.push(chart);
  }
}

function renderVolume(data) {
  const xs = data.buckets.map(seconds);
  const series = (tierLabel) =>
    data.volume.map((tier) => {
      const colour = tierColor(data.tiers, tier.tier);
      return { label: tier.tier || "no tier", stroke: colour, fill: translucent(colour, 0.12), width: 2, value: tierLabel };
    });
  for (const [id, key, format] of [
    ["volume-chart", "calls_per_bucket", int],
    ["cost-chart", "cost_per_bucket", usd],
  ]) {
    const holder = $(id);
    holder.replaceChildren();
    const columns = [xs, ...data.volume.map((tier) => tier[key])];
    const options = chartOptions(holder, data, series((u, v) => format(v)), { yValues: (u, ticks) => ticks.map(format) });
    state.charts.push(new uPlot(options, columns, holder));
  }
  fillTable("tiers", data.volume, (tier) => [
    cell(tier.tier || "no tier"),
    cell(int(tier.calls), "num"),
    cell(int(tier.input_tokens), "num"),
    cell(int(tier.output_tokens), "num"),
    cell(usd(tier.cost_usd), "num"),
    cell(int(tier.unpriced_calls), "num"),
  ]);
}

function renderShadow(data) {
  const holder = $("shadow-chart");
  holder.replaceChildren();
  const days = data.shadow.days;
  const xs = days.map((day) => seconds(`${day.day}T12:00:00Z`));
  const bars = uPlot.paths.bars({ size: [0.6, 60] });
  const options = chartOptions(
    holder,
    data,
    [
      { label: "spent", stroke: css("--accent"), fill: translucent(css("--accent"), 0.5), paths: bars, points: { show: false }, value: (u, v) => usd(v) },
      { label: "budget", stroke: css("--bad"), dash: [6, 4], width: 1.5, points: { show: false }, value: (u, v) => usd(v) },
    ],
    { yValues: (u, ticks) => ticks.map(usd), scales: { y: { range: (u, min, max) => [0, Math.max(max ?? 0, 0.01) * 1.1] } } },
  );
  options.scales.x.range = () => [seconds(`${days[0].day}T00:00:00Z`), seconds(`${days[days.length - 1].day}T00:00:00Z`) + 86400];
  state.charts.push(new uPlot(options, [xs, days.map((day) => day.spent_usd), days.map((day) => day.budget_usd)], holder));
}

function renderRecommendations(data) {
  fillTable("recommendations", data.recommendations, (rec) => [
    cell(rec.task_class),
    cell(`${rec.from_tier} → ${rec.to_tier}`),
    cell(rec.savings_low_usd === null ? usd(rec.monthly_savings_usd) : `${usd(rec.monthly_savings_usd)} (${usd(rec.savings_low_usd)} – ${usd(rec.savings_high_usd)})`, "num"),
    cell(usd(rec.shadow_cost_monthly_usd), "num"),
    whenCell(rec.created_at),
  ]);
}

function renderDecisions(data) {
  fillTable("decisions", data.decisions, (decision) => [
    whenCell(decision.created_at),
    cell(decision.task_class),
    el("td", {}, badge(decision.kind)),
    cell(decision.from_tier || decision.to_tier ? `${decision.from_tier || DASH} → ${decision.to_tier || DASH}` : DASH),
    cell(decision.actor),
    cell(humanTimes(decision.reason), "reason"),
  ]);
}

function renderDeliveries(data) {
  fillTable("deliveries", data.webhooks.recent, (delivery) => [
    whenCell(delivery.created_at),
    cell(delivery.endpoint),
    cell(delivery.event_type),
    cell(delivery.task_class || DASH),
    el("td", {}, badge(delivery.status)),
    cell(int(delivery.attempts), "num"),
    cell(delivery.last_status_code === null ? (delivery.attempts ? "no answer" : DASH) : delivery.last_status_code, "num"),
    cell(humanTimes(delivery.last_error), "reason"),
  ]);
}

// ---- controls -------------------------------------------------------------------------------
function start() {
  const params = new URLSearchParams(location.search);
  if (RANGES.includes(params.get("range"))) state.range = params.get("range");
  state.taskClass = params.get("task_class") || "";
  if (state.taskClass) state.classes.add(state.taskClass);
  for (const button of document.querySelectorAll("#ranges button")) {
    button.addEventListener("click", () => {
      state.range = button.dataset.range;
      load();
    });
  }
  $("class-filter").addEventListener("change", (event) => {
    state.taskClass = event.target.value;
    load();
  });
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    localStorage.setItem(KEY_STORAGE, $("key-input").value.trim());
    $("key-input").value = "";
    load();
  });
  $("change-key").addEventListener("click", () => askForKey(null));
  let resizing;
  addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => state.charts.forEach((chart) => chart.setSize({ width: Math.max(300, chart.root.parentElement.clientWidth - 20), height: 220 })), 150);
  });
  load();
}

start();
