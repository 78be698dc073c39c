// Uplift Engine report: draws the report's charts from its embedded data (inlined by uplift report).
"use strict";
(function () {
  const R = JSON.parse(document.getElementById("report-data").textContent);
  const T = R.labels, d = R.data, box = document.getElementById("charts");
  const P = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7"];
  const charts = {};
  function add(id, key, traces, extra) {
    const s = document.createElement("section");
    s.innerHTML = `<h2>${T[key]}</h2><div id="${id}" class="chart"></div>`;
    box.append(s);
    charts[id] = traces;
    Plotly.newPlot(id, traces, Object.assign({ colorway: P, margin: { t: 24, r: 16, b: 48, l: 72 },
      legend: { orientation: "h" } }, extra || {}), { staticPlot: true });
  }
  const m = d.models, champ = m.versions.find((v) => v.release === m.champion);
  if (champ) {
    const traces = Object.entries(champ.offers).filter(([, f]) => f.curves).map(([o, f]) => (
      { type: "scatter", mode: "lines", name: o, x: f.curves.x, y: f.curves.qini.map((p) => p.value) }));
    if (traces.length) add("qini", "qini_curve", traces, { xaxis: { tickformat: ".0%", title: { text: T.share_targeted } } });
  }
  if (d.budget.plan) {
    const s = d.budget.plan.strategies;
    add("roi", "roi_by_strategy", [{ type: "bar", x: s.map((x) => T[x.strategy] || x.strategy), y: s.map((x) => x.roi), marker: { color: P.slice(0, s.length) } }], { yaxis: { tickformat: ".0%" } });
  }
  if (d.budget.curve) {
    const c = d.budget.curve;
    add("frontier", "curve", [{ type: "scatter", mode: "lines+markers", name: T.optimised, x: c.map((p) => p.budget * 1000), y: c.map((p) => p.gain.value * 1000) }],
      { xaxis: { title: { text: T.budget_vnd } }, yaxis: { title: { text: T.profit_vnd } } });
  }
  const meas = d.campaign.measurement;
  if (meas) {
    const parts = Object.entries(Object.assign(meas.campaign ? { campaign: meas.campaign } : {}, meas.by_offer || {}));
    add("results", "incremental_by_offer", [{ type: "bar", x: parts.map(([n]) => n), y: parts.map(([, p]) => p.incremental_profit.value * 1000), marker: { color: P[2] } }]);
  }
  window.report = { charts: charts, ready: true };
})();
