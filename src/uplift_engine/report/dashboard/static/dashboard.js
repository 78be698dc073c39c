// Uplift Engine dashboard: draws a page's charts from /api/<page> with the labels of one language.
// Colours: the Okabe–Ito palette (readable with colour-vision deficiency); money in VND.
"use strict";
(function () {
  const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"];
  const page = document.body.dataset.page;
  let lang = document.body.dataset.lang;
  let T = {};
  let data = null;
  const drawn = [];  // [id, draw function] to draw again when the language changes
  window.uplift = { charts: {}, ready: false };

  const t = (key) => (key in T ? T[key] : key);
  const alpha = (hex, a) => `rgba(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(",")},${a})`;
  const main = document.getElementById("page");
  const fmt = (v, digits) => (v === null || v === undefined ? "—" :
    new Intl.NumberFormat(lang === "vi" ? "vi-VN" : "en-US", { maximumFractionDigits: digits }).format(v));
  const vnd = (thousands) => (thousands === null || thousands === undefined ? "—" : fmt(thousands * 1000, 0) + " ₫");

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    (children || []).forEach((c) => node.append(c));
    return node;
  }
  function heading(key) { return el("h2", {}, [el("span", { "data-i18n": key }, [t(key)])]); }
  function section(id, key) {
    const box = el("section", {}, [heading(key), el("div", { id: id, class: "chart" })]);
    main.append(box);
    return box;
  }
  function layout(titleKey, xKey, yKey, extra) {
    return Object.assign({
      title: { text: t(titleKey) }, colorway: PALETTE, margin: { t: 48, r: 16, b: 56, l: 72 },
      xaxis: { title: { text: xKey ? t(xKey) : "" }, automargin: true },
      yaxis: { title: { text: yKey ? t(yKey) : "" }, automargin: true, separatethousands: true },
      legend: { orientation: "h", y: -0.25 }, font: { family: "system-ui, sans-serif" },
    }, extra || {});
  }
  function chart(id, make) {
    const draw = () => {
      const [traces, lay] = make();
      window.uplift.charts[id] = traces;
      Plotly.react(id, traces, lay, { displayModeBar: false, responsive: true });
    };
    drawn.push(draw);
    draw();
  }
  function table(key, headers, rows) {
    const head = el("tr", {}, headers.map((h) => el("th", { "data-i18n": h }, [t(h)])));
    const body = rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, [String(c ?? "—")]))));
    main.append(el("section", {}, [heading(key), el("table", { id: "table-" + key }, [head, ...body])]));
  }
  function missing(list) {
    if (list && list.length) {
      main.append(el("p", { class: "missing" }, [el("span", { "data-i18n": "missing" }, [t("missing")]), " " + list.join(", ")]));
    }
  }
  const errorBars = (items) => ({
    type: "data", symmetric: false, visible: true,
    array: items.map((e) => (e && e.high !== null ? e.high - e.value : 0)),
    arrayminus: items.map((e) => (e && e.low !== null ? e.value - e.low : 0)),
  });

  const pages = {
    models(d) {
      const versions = d.versions;
      const offers = [...new Set(versions.flatMap((v) => Object.keys(v.offers)))];
      section("qini", "qini_by_version");
      chart("qini", () => [offers.map((o) => {
        const items = versions.map((v) => (v.offers[o] || {}).qini_coefficient || null);
        return { type: "bar", name: o, x: versions.map((v) => v.release), y: items.map((e) => (e ? e.value : null)), error_y: errorBars(items) };
      }), layout("qini_by_version", "release", null, { barmode: "group" })]);
      offers.forEach((o) => {
        [["qini", "qini_curve"], ["gain", "gain_curve"]].forEach(([curve, key]) => {
          const withCurves = versions.filter((v) => v.offers[o] && v.offers[o].curves);
          if (!withCurves.length) return;
          const id = `${curve}_${o}`;
          section(id, key).querySelector("h2").append(` · ${o}`);
          chart(id, () => [withCurves.flatMap((v, k) => {
            const c = v.offers[o].curves;
            const colour = PALETTE[k % PALETTE.length];
            const name = `${v.release}${v.aliases.length ? " (" + v.aliases.join(", ") + ")" : ""}`;
            return [
              { type: "scatter", mode: "lines", x: c.x, y: c[curve].map((p) => p.high), line: { width: 0, color: colour }, showlegend: false, hoverinfo: "skip" },
              { type: "scatter", mode: "lines", x: c.x, y: c[curve].map((p) => p.low), line: { width: 0, color: colour }, fill: "tonexty", fillcolor: alpha(colour, 0.18), showlegend: false, hoverinfo: "skip" },
              { type: "scatter", mode: "lines", name: name, x: c.x, y: c[curve].map((p) => p.value), line: { color: colour, width: 2 } },
            ];
          }).concat(withCurves.slice(-1).map((v) => {
            const c = v.offers[o].curves[curve];
            return { type: "scatter", mode: "lines", name: t("random"), x: [0, 1], y: [0, c[c.length - 1].value], line: { dash: "dash", color: "#555" } };
          })), layout(key, "share_targeted", curve === "qini" ? "qini_value" : "gain_value",
            { xaxis: { title: { text: t("share_targeted") }, tickformat: ".0%" } })]);
        });
      });
      const champion = versions.find((v) => v.release === d.champion) || versions[versions.length - 1];
      if (champion) {
        section("calibration", "calibration");
        chart("calibration", () => [Object.entries(champion.offers).flatMap(([o, f], k) => [
          { type: "scatter", mode: "lines+markers", name: `${o} · ${t("predicted")}`, x: f.calibration.map((c) => c.decile), y: f.calibration.map((c) => c.predicted), line: { dash: "dot", color: PALETTE[k] } },
          { type: "scatter", mode: "markers", name: `${o} · ${t("observed")}`, x: f.calibration.map((c) => c.decile), y: f.calibration.map((c) => c.observed), marker: { color: PALETTE[k] },
            error_y: errorBars(f.calibration.map((c) => ({ value: c.observed, low: c.observed_low, high: c.observed_high }))) },
        ]), layout("calibration", "decile", "uplift")]);
        section("uplift_at_k", "uplift_at_k");
        chart("uplift_at_k", () => [Object.entries(champion.offers).map(([o, f]) => (
          { type: "scatter", mode: "lines+markers", name: o, x: f.uplift_at_k.map((u) => u.k), y: f.uplift_at_k.map((u) => u.value), error_y: errorBars(f.uplift_at_k) })),
        layout("uplift_at_k", "share_targeted", "uplift", { xaxis: { title: { text: t("share_targeted") }, tickformat: ".0%" } })]);
      }
      table("versions", ["release", "learner", "campaign_id", "aliases", "auuc", "gate"], versions.slice().reverse().map((v) => [
        v.release, v.learner, v.campaign, v.aliases.join(", "),
        Object.entries(v.offers).map(([o, f]) => `${o} ${fmt(f.auuc_coefficient && f.auuc_coefficient.value, 3)}`).join(", "),
        v.gate ? `${v.gate.metric} ${fmt(v.gate.difference && v.gate.difference.value, 4)} (${v.gate.against})` : "—"]));
      table("history", ["aliases", "release", "started"], d.history.slice().reverse().map((m) => [m.alias, m.release, m.at]));
    },
    budget(d) {
      missing(d.missing);
      if (d.plan) {
        const s = d.plan.strategies;
        section("profit", "profit_by_strategy");
        chart("profit", () => [[{ type: "bar", x: s.map((x) => t(x.strategy)), y: s.map((x) => x.profit * 1000), marker: { color: PALETTE.slice(0, s.length) },
          text: s.map((x) => vnd(x.profit)), hovertext: s.map((x) => vnd(x.profit)) }], layout("profit_by_strategy", null, "profit_vnd")]);
        section("roi", "roi_by_strategy");
        chart("roi", () => [[{ type: "bar", x: s.map((x) => t(x.strategy)), y: s.map((x) => x.roi), marker: { color: PALETTE.slice(0, s.length) } }],
          layout("roi_by_strategy", null, null, { yaxis: { tickformat: ".0%" } })]);
        section("allocation", "allocation");
        const offers = d.plan.offers || Object.keys(s[0].per_offer);
        chart("allocation", () => [s.map((x) => ({ type: "bar", name: t(x.strategy), x: offers, y: offers.map((o) => x.per_offer[o] || 0) })),
          layout("allocation", null, "count", { barmode: "group" })]);
        const bc = d.plan.budget_confidence;
        if (bc) {
          main.append(el("p", { id: "headroom" }, [el("span", { "data-i18n": "headroom" }, [t("headroom")]), `: ${vnd(bc.headroom)}`]));
        }
      }
      if (d.frontier) {
        const f = d.frontier;
        section("frontier", "frontier");
        chart("frontier", () => [[
          { type: "scatter", mode: "lines+markers", name: t("profit_vnd"), x: f.map((p) => p.budget * 1000), y: f.map((p) => p.profit * 1000), line: { color: PALETTE[0] } },
          { type: "scatter", mode: "lines+markers", name: "ROI", x: f.map((p) => p.budget * 1000), y: f.map((p) => p.roi), yaxis: "y2", line: { color: PALETTE[1], dash: "dot" } },
        ], layout("frontier", "budget_vnd", "profit_vnd", { yaxis2: { overlaying: "y", side: "right", tickformat: ".0%", title: { text: "ROI" } } })]);
      }
      if (d.curve) {
        const c = d.curve;
        section("curve", "curve");
        chart("curve", () => [[
          { type: "scatter", mode: "lines", name: "high", x: c.map((p) => p.budget * 1000), y: c.map((p) => p.gain.high * 1000), line: { width: 0 }, showlegend: false },
          { type: "scatter", mode: "lines", name: "low", x: c.map((p) => p.budget * 1000), y: c.map((p) => p.gain.low * 1000), fill: "tonexty", line: { width: 0 }, fillcolor: "rgba(0,114,178,0.2)", showlegend: false },
          { type: "scatter", mode: "lines+markers", name: t("optimised"), x: c.map((p) => p.budget * 1000), y: c.map((p) => p.gain.value * 1000), line: { color: PALETTE[0] } },
        ], layout("curve", "budget_vnd", "profit_vnd")]);
      }
    },
    campaign(d) {
      missing(d.missing);
      const m = d.measurement;
      if (!m) return;
      const parts = [].concat(
        m.campaign ? [[t("campaign_id"), m.campaign]] : [],
        Object.entries(m.by_offer || {}),
        Object.entries(m.by_segment || {}).map(([k, p]) => [`${t("segment")}: ${k}`, p]),
        m.programme ? [[t("programme"), m.programme]] : []);
      const names = parts.map(([n]) => n);
      const est = (e, scale) => ({ value: e.value === null ? null : e.value * scale, low: e.low === null ? null : e.low * scale, high: e.high === null ? null : e.high * scale });
      section("conversions", "conversions_by_part");
      chart("conversions", () => [[{ type: "bar", x: names, y: parts.map(([, p]) => p.conversions.estimate.value),
        error_y: errorBars(parts.map(([, p]) => p.conversions.estimate)), marker: { color: PALETTE[0] } }], layout("conversions_by_part", null, "count")]);
      section("incremental", "incremental_by_offer");
      chart("incremental", () => [[{ type: "bar", x: names, y: parts.map(([, p]) => p.incremental_profit.value * 1000),
        error_y: errorBars(parts.map(([, p]) => est(p.incremental_profit, 1000))), marker: { color: PALETTE[2] } }], layout("incremental_by_offer", null, "profit_vnd")]);
      section("roi_parts", "roi_by_part");
      chart("roi_parts", () => [[{ type: "bar", x: names, y: parts.map(([, p]) => p.roi.value),
        error_y: errorBars(parts.map(([, p]) => p.roi)), marker: { color: PALETTE[4] } }], layout("roi_by_part", null, null, { yaxis: { tickformat: ".0%" } })]);
      const ci = (e, scale, money) => e ? `${money ? vnd(e.value * scale / 1000) : fmt(e.value * scale, 1)} [${money ? vnd(e.low * scale / 1000) : fmt(e.low * scale, 1)}, ${money ? vnd(e.high * scale / 1000) : fmt(e.high * scale, 1)}]` : "—";
      table("campaign", ["campaign_id", "conversions", "revenue", "spend", "profit_vnd", "roi_by_strategy"], parts.map(([n, p]) => [
        n, ci(p.conversions.estimate, 1, false), p.revenue ? ci(p.revenue.estimate, 1000, true) : "—", vnd(p.cost),
        ci(p.incremental_profit, 1000, true), p.roi.value === null ? "—" : `${fmt(p.roi.value * 100, 0)}%`]));
    },
    operations(d) {
      missing(d.missing);
      const svc = d.service;
      if (svc && svc.latency_ms) {
        const routes = Object.keys(svc.latency_ms);
        section("latency", "latency");
        chart("latency", () => [["p50", "p90", "p99"].map((q) => ({ type: "bar", name: q, x: routes, y: routes.map((r) => svc.latency_ms[r][q]) })),
          layout("latency", "route", "milliseconds", { barmode: "group" })]);
        table("service", ["requests", "count"], Object.entries(svc.requests).map(([k, v]) => [k, fmt(v, 0)]).concat(
          [[t("degraded"), fmt(svc.degraded, 0)], [t("reloads"), fmt(svc.reloads, 0)]]));
      } else if (svc && svc.error) {
        main.append(el("p", { class: "missing" }, [svc.error]));
      }
      const runs = d.pipeline.runs;
      table("runs", ["started", "campaign_id", "decision", "why"], runs.map((r) => [r.started_at, r.campaign, r.decision, (r.why || []).join(" · ")]));
      const drift = d.pipeline.drift;
      const drifted = drift ? [...drift.features_drifted, ...drift.scores_drifted] : [];
      table("drift", ["drifted"], drifted.length ? drifted.map((n) => [n]) : [[t("nothing_drifted")]]);
      if (d.traffic) {
        const days = d.traffic.by_day;
        section("traffic", "decisions_by_day");
        chart("traffic", () => [[
          { type: "bar", name: t("decisions"), x: days.map((x) => x.day), y: days.map((x) => x.decisions), marker: { color: PALETTE[0] } },
          { type: "bar", name: t("degraded"), x: days.map((x) => x.day), y: days.map((x) => x.degraded), marker: { color: PALETTE[3] } },
        ], layout("decisions_by_day", "day", "count", { barmode: "group", xaxis: { type: "category", title: { text: t("day") } } })]);
        Object.entries(d.pacing || {}).forEach(([campaign, points]) => {
          const id = "pacing_" + campaign;
          section(id, "pacing").querySelector("h2").append(` · ${campaign}`);
          chart(id, () => [[
            { type: "scatter", mode: "lines", name: t("target_share"), x: points.map((p) => p.at), y: points.map((p) => p.target), line: { dash: "dash", color: "#555" } },
            { type: "scatter", mode: "lines", name: t("spent_share"), x: points.map((p) => p.at), y: points.map((p) => p.spent), line: { color: PALETTE[0] } },
            { type: "scatter", mode: "lines", name: t("committed"), x: points.map((p) => p.at), y: points.map((p) => p.committed), line: { color: PALETTE[3] } },
          ], layout("pacing", "time", null, { yaxis: { tickformat: ".0%" } })]);
        });
        const a = d.traffic.assignments;
        if (Object.keys(a).length) {
          section("assignments", "assignments");
          chart("assignments", () => [[{ type: "bar", x: Object.keys(a), y: Object.values(a), marker: { color: PALETTE[4] } }], layout("assignments", null, "count")]);
        }
      }
    },
    targeting(d) {
      missing(d.missing);
      const TYPES = ["persuadable", "sure_thing", "lost_cause", "sleeping_dog"];
      if (d.types) {
        Object.entries(d.types.offers).forEach(([offer, shares]) => {
          const id = "types_" + offer;
          section(id, "types_by_segment").querySelector("h2").append(` · ${offer}`);
          chart(id, () => [TYPES.map((k) => ({ type: "bar", name: t(k), x: d.types.segments, y: shares[k] })),
            layout("types_by_segment", "segment", "share", { barmode: "stack", yaxis: { tickformat: ".0%", title: { text: t("share") } } })]);
        });
      }
      if (d.drivers) {
        Object.entries(d.drivers).forEach(([offer, items]) => {
          const id = "drivers_" + offer;
          section(id, "drivers").querySelector("h2").append(` · ${offer}`);
          chart(id, () => [[{ type: "bar", orientation: "h", y: items.map((i) => i.feature).reverse(), x: items.map((i) => i.mean_abs).reverse(), marker: { color: PALETTE[0] } }],
            layout("drivers", "importance", null)]);
        });
      }
      if (!d.exclusions) return;
      if (Object.keys(d.exclusions).length) {
      section("by_kind", "exclusions_by_kind");
      chart("by_kind", () => [[{ type: "bar", x: Object.keys(d.by_kind), y: Object.values(d.by_kind), marker: { color: PALETTE[1] } }], layout("exclusions_by_kind", null, "count")]);
      section("exclusions", "exclusions");
      chart("exclusions", () => [[{ type: "bar", orientation: "h", y: Object.keys(d.exclusions), x: Object.values(d.exclusions), marker: { color: PALETTE[3] } }], layout("exclusions", "count", null)]);
      }
      section("offers", "offers_made");
      chart("offers", () => [[{ type: "bar", x: Object.keys(d.offers).map((o) => (o === "none" ? t("none") : o)), y: Object.values(d.offers), marker: { color: PALETTE[2] } }], layout("offers_made", null, "count")]);
    },
  };

  function relabel() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
    drawn.forEach((draw) => draw());
  }

  async function labels(code) { T = await (await fetch(`/api/labels/${code}`)).json(); }

  document.getElementById("language").addEventListener("click", async () => {
    lang = lang === "en" ? "vi" : "en";
    document.cookie = `uplift_lang=${lang}; path=/; SameSite=Strict`;
    await labels(lang);
    render();  // tables and axis categories carry words and numbers of the language too
    window.uplift.lang = lang;
  });

  function render() {
    drawn.length = 0;
    Object.keys(window.uplift.charts).forEach((id) => delete window.uplift.charts[id]);
    const title = main.querySelector("h1");
    main.replaceChildren(title);
    pages[page](data);
    relabel();
  }

  (async () => {
    const [body] = await Promise.all([fetch(`/api/${page}`).then((r) => r.json()), labels(lang)]);
    data = body;
    window.uplift.data = data;
    render();
    window.uplift.lang = lang;
    window.uplift.ready = true;
  })();
})();
