// webmon dashboard: fetches the JSON API and renders it with DOM calls only
// (textContent, never innerHTML), so nothing read from results can inject markup.
"use strict";

(function () {
  var REFRESH_MS = 30000;
  var PALETTE = ["#2563eb", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563", "#65a30d"];
  var PHASES = [
    ["dns_ms", "DNS", "#8b5cf6"],
    ["connect_ms", "Connect", "#0ea5e9"],
    ["tls_ms", "TLS", "#f59e0b"],
    ["ttfb_ms", "TTFB", "#10b981"],
    ["transfer_ms", "Transfer", "#ef4444"],
  ];

  var params = new URLSearchParams(location.search);
  var since = params.get("since") || "1h";

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "className") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function ms(v) {
    if (v === null || v === undefined) return "–";
    return v >= 100 ? Math.round(v) + " ms" : v.toFixed(1) + " ms";
  }

  function pct(v) {
    return v >= 99.995 ? "100%" : v.toFixed(2) + "%";
  }

  function ago(atMs) {
    var s = Math.max(0, Math.round((Date.now() - atMs) / 1000));
    if (s < 90) return s + "s ago";
    if (s < 5400) return Math.round(s / 60) + "m ago";
    if (s < 129600) return Math.round(s / 3600) + "h ago";
    return Math.round(s / 86400) + "d ago";
  }

  function when(atMs) {
    return new Date(atMs).toLocaleString();
  }

  function setStatus(text, isError) {
    var s = document.getElementById("status");
    s.textContent = text;
    s.className = isError ? "error" : "muted";
    s.hidden = !text;
  }

  function getJson(path) {
    return fetch(path, { headers: { Accept: "application/json" } }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.error || r.status + " " + r.statusText);
        return body;
      });
    });
  }

  function failureText(last) {
    var parts = [];
    if (last.status_code) parts.push(String(last.status_code));
    if (last.error_class) parts.push(last.error_class);
    if (last.error_message) parts.push(last.error_message);
    return parts.join(" · ");
  }

  function setupSince(onChange) {
    var select = document.getElementById("since");
    if (!select) return;
    if (!Array.prototype.some.call(select.options, function (o) { return o.value === since; })) {
      select.appendChild(el("option", { value: since, text: since }));
    }
    select.value = since;
    select.addEventListener("change", function () {
      since = select.value;
      params.set("since", since);
      history.replaceState(null, "", location.pathname + "?" + params.toString());
      onChange();
    });
  }

  // ---- uptime bars ----------------------------------------------------------------

  // The class of a day's availability: the same thresholds as the badges.
  function uptimeClass(pctValue) {
    if (pctValue === null || pctValue === undefined) return "none";
    if (pctValue >= 99.9) return "good";
    if (pctValue >= 99) return "fair";
    if (pctValue >= 95) return "poor";
    return "bad";
  }

  function day(dayMs) {
    return new Date(dayMs).toISOString().slice(0, 10);
  }

  // One bar per UTC day, coloured by availability, its figure in the tooltip.
  function uptimeBars(history, wide) {
    var bars = el("div", { className: "uptime" + (wide ? " wide" : "") });
    var noData = 0;
    history.days.forEach(function (d) {
      var cls = uptimeClass(d.availability_pct);
      if (cls === "none") noData += 1;
      var tip = cls === "none" ? day(d.day_ms) + ": no data"
        : day(d.day_ms) + ": " + pct(d.availability_pct) + " (" + d.passed + " of " + d.samples + " passed)";
      var bar = el("span", { className: cls, title: tip });
      bar.setAttribute("data-day", day(d.day_ms));
      bars.appendChild(bar);
    });
    bars.setAttribute("data-day-count", String(history.days.length));
    bars.setAttribute("data-no-data-count", String(noData));
    return bars;
  }

  function emptyHistory(days, fromMs) {
    var list = [];
    for (var i = 0; i < days; i++) list.push({ day_ms: fromMs + i * 86400000, samples: 0, passed: 0, availability_pct: null });
    return { days: list };
  }

  // ---- overview -------------------------------------------------------------------

  var STATE_ORDER = { down: 0, degraded: 1, stale: 2, pending: 3, up: 4 };
  var tagFilter = params.get("tag") || "";
  var lastOverview = null;

  function tagText(tags) {
    return Object.keys(tags || {}).sort().map(function (k) { return k + "=" + tags[k]; });
  }

  function renderSummary(summary) {
    var p = document.getElementById("summary");
    p.textContent = "";
    var parts = ["up", "down", "degraded", "stale", "pending"];
    p.appendChild(el("span", { className: "count", text: summary.total + " checks" }));
    p.appendChild(document.createTextNode(": " + parts.map(function (k) { return summary[k] + " " + k; }).join(", ")));
    p.setAttribute("data-summary", summary.total + ":" + parts.map(function (k) { return summary[k]; }).join(","));
  }

  function setupFilters() {
    var search = document.getElementById("search");
    if (!search) return;
    search.value = params.get("q") || "";
    search.addEventListener("input", function () {
      if (search.value) params.set("q", search.value); else params.delete("q");
      history.replaceState(null, "", location.pathname + "?" + params.toString());
      if (lastOverview) renderOverview(lastOverview[0], lastOverview[1], lastOverview[2]);
    });
    document.getElementById("tag").addEventListener("change", function (e) {
      tagFilter = e.target.value;
      if (tagFilter) params.set("tag", tagFilter); else params.delete("tag");
      history.replaceState(null, "", location.pathname + "?" + params.toString());
      if (lastOverview) renderOverview(lastOverview[0], lastOverview[1], lastOverview[2]);
    });
  }

  function fillTags(checks) {
    var select = document.getElementById("tag");
    var all = {};
    checks.forEach(function (c) { tagText(c.tags).forEach(function (t) { all[t] = true; }); });
    if (tagFilter) all[tagFilter] = true;
    select.textContent = "";
    select.appendChild(el("option", { value: "", text: "all" }));
    Object.keys(all).sort().forEach(function (t) { select.appendChild(el("option", { value: t, text: t })); });
    select.value = tagFilter;
  }

  function matches(check) {
    var q = (document.getElementById("search").value || "").toLowerCase();
    if (q && check.check_id.toLowerCase().indexOf(q) < 0 && (check.url || "").toLowerCase().indexOf(q) < 0) return false;
    return !tagFilter || tagText(check.tags).indexOf(tagFilter) >= 0;
  }

  // ---- alert state -----------------------------------------------------------------

  function duration(msTotal) {
    var s = Math.max(0, Math.round(msTotal / 1000));
    if (s < 120) return s + "s";
    if (s < 7200) return Math.round(s / 60) + "m";
    if (s < 172800) return (s / 3600).toFixed(1) + "h";
    return (s / 86400).toFixed(1) + "d";
  }

  // The alert level of a check as a badge (nothing when UP or unknown to the evaluator).
  function alertBadge(level) {
    if (!level || level.level === "UP") return null;
    var badge = el("span", {
      className: "badge alert " + level.level.toLowerCase(),
      text: level.level,
      title: "alert level since " + when(level.since_ms) + (level.incident_id ? " · incident " + level.incident_id : ""),
    });
    badge.setAttribute("data-alert-level", level.level);
    return badge;
  }

  function loadAlerts() {
    // Alert state is optional: a failure here never hides the measurements.
    return getJson("/api/alerts?since=" + encodeURIComponent(since)).catch(function () {
      return { available: false, checks: [], incidents: [] };
    });
  }

  function levelsById(alerts) {
    var byId = {};
    alerts.checks.forEach(function (c) { byId[c.check_id] = c; });
    return byId;
  }

  function renderIncidents(alerts, id) {
    var table = document.getElementById("incidents");
    var body = table.tBodies[0];
    body.textContent = "";
    var note = document.getElementById("alert-level");
    if (!alerts.available) {
      note.textContent = "This store keeps no alert state (alerting runs in `webmon run`, on its SQLite store).";
      table.hidden = true;
      return;
    }
    table.hidden = false;
    var level = levelsById(alerts)[id];
    note.textContent = "";
    if (level) {
      note.appendChild(el("span", { className: "badge alert " + level.level.toLowerCase(), text: level.level }));
      note.appendChild(document.createTextNode(" since " + when(level.since_ms)));
    } else {
      note.textContent = "Not evaluated yet.";
    }
    var mine = alerts.incidents.filter(function (i) { return i.check_id === id; }).reverse();
    mine.forEach(function (i) {
      var end = i.resolved_at_ms === null || i.resolved_at_ms === undefined ? null : i.resolved_at_ms;
      body.appendChild(el("tr", {}, [
        el("td", { text: when(i.opened_at_ms) }),
        el("td", { className: end === null ? "error-text" : "", text: end === null ? "open" : when(end) }),
        el("td", { className: "num", text: duration((end === null ? Date.now() : end) - i.opened_at_ms) }),
        el("td", {}, [el("span", { className: "badge alert " + i.worst.toLowerCase(), text: i.worst })]),
        el("td", { className: "region", text: i.regions.length ? i.regions.join(", ") : "–" }),
        el("td", { className: "muted small", text: i.id }),
      ]));
    });
    if (mine.length === 0) {
      body.appendChild(el("tr", {}, [el("td", { colspan: "6", className: "muted", text: "No incidents in this window." })]));
    }
    table.setAttribute("data-incident-count", String(mine.length));
  }

  function renderOverview(data, alerts, uptime) {
    lastOverview = [data, alerts, uptime];
    var levels = levelsById(alerts || { checks: [] });
    var histories = {};
    (uptime ? uptime.checks : []).forEach(function (c) { histories[c.check_id] = c; });
    var historyOf = function (id) {
      return histories[id] || (uptime ? emptyHistory(uptime.days, uptime.window.from_ms) : { days: [] });
    };
    renderSummary(data.summary);
    fillTags(data.checks);
    var table = document.getElementById("overview");
    var body = table.tBodies[0];
    body.textContent = "";
    var shown = data.checks.filter(matches).sort(function (a, b) {
      var d = STATE_ORDER[a.state || a.health] - STATE_ORDER[b.state || b.health];
      return d !== 0 ? d : (a.check_id < b.check_id ? -1 : 1);
    });
    shown.forEach(function (check) {
      var state = check.state || check.health;
      if (check.regions.length === 0) {
        // Configured but not run yet: one row saying so.
        var pending = el("tr", { className: "first" }, [
          el("td", { className: "check" }, [
            el("span", { className: "badge " + state, text: state }),
            el("span", { text: check.check_id }),
            el("div", { className: "muted small url", text: check.url }),
            uptimeBars(historyOf(check.check_id), false),
          ]),
          el("td", { className: "muted", text: "-" }),
          el("td", { className: "muted", text: "not run yet" }),
        ]);
        pending.cells[0].setAttribute("data-check-id", check.check_id);
        body.appendChild(pending);
        return;
      }
      check.regions.forEach(function (r, i) {
        var row = el("tr", { className: i === 0 ? "first" : "" });
        if (i === 0) {
          var link = el("a", { href: "/check/" + encodeURIComponent(check.check_id) + "?since=" + encodeURIComponent(since), text: check.check_id });
          var cell = el("td", { rowspan: String(check.regions.length), className: "check" }, [
            el("span", { className: "badge " + state, text: state }),
            alertBadge(levels[check.check_id]),
            link,
            el("div", { className: "muted small url", text: check.url }),
            tagText(check.tags).length ? el("div", { className: "muted small", text: tagText(check.tags).join(" ") }) : null,
            uptimeBars(historyOf(check.check_id), false),
          ]);
          cell.setAttribute("data-check-id", check.check_id);
          row.appendChild(cell);
        }
        var last = r.last;
        var word = state === "stale" ? "stale, last " + (last.available ? "up" : "down") : (last.available ? "up" : "down");
        var lastCell = el("td", {}, [
          el("span", { className: "dot " + (state === "stale" ? "stale" : (last.available ? "up" : "down")) }),
          el("span", { text: word }),
          el("span", { className: "muted small", text: " " + ago(last.at_ms) }),
        ]);
        if (!last.available) {
          lastCell.appendChild(el("div", { className: "small error-text", text: failureText(last) }));
        }
        row.appendChild(el("td", { className: "region", text: r.region }));
        row.appendChild(lastCell);
        row.appendChild(el("td", { className: "num", text: pct(r.availability_pct) }));
        row.appendChild(el("td", { className: "num", text: ms(r.p50_ms) }));
        row.appendChild(el("td", { className: "num", text: ms(r.p95_ms) }));
        row.appendChild(el("td", { className: "num", text: String(r.samples) }));
        body.appendChild(row);
      });
    });
    table.hidden = shown.length === 0;
    table.setAttribute("data-check-count", String(shown.length));
    table.setAttribute("data-check-order", shown.map(function (c) { return c.check_id; }).join(","));
    if (data.checks.length === 0) setStatus("No results in this window. Is `webmon run` writing to this database?");
    else setStatus(shown.length === 0 ? "No check matches the search or the tag." : "");
  }

  function loadUptime() {
    // The history is optional too: without it the bars are grey.
    return getJson("/api/uptime?days=90").catch(function () { return null; });
  }

  function loadOverview() {
    Promise.all([getJson("/api/overview?since=" + encodeURIComponent(since)), loadAlerts(), loadUptime()])
      .then(function (all) { renderOverview(all[0], all[1], all[2]); })
      .catch(function (e) { setStatus("Failed to load the overview: " + e.message, true); });
  }

  // ---- check page -----------------------------------------------------------------

  var plot = null;

  function renderChart(series) {
    var container = document.getElementById("chart");
    var regions = series.regions;
    if (plot) { plot.destroy(); plot = null; }
    container.textContent = "";
    if (regions.length === 0) {
      container.appendChild(el("p", { className: "muted", text: "No results in this window." }));
      container.setAttribute("data-series-count", "0");
      return;
    }
    var tables = regions.map(function (r) {
      return [r.t_ms.map(function (t) { return t / 1000; }), r.latency_ms];
    });
    var data = uPlot.join(tables);
    // Failed executions: red marks on the time axis (any region; the legend tells which
    // regions had a gap, the table below tells why).
    var failedAt = {};
    regions.forEach(function (r) {
      r.t_ms.forEach(function (t, i) { if (r.failures[i] > 0) failedAt[t / 1000] = (failedAt[t / 1000] || 0) + r.failures[i]; });
    });
    data.push(data[0].map(function (x) { return failedAt[x] ? 0 : null; }));
    var opts = {
      width: Math.max(320, container.clientWidth),
      height: 320,
      // The time axis spans the selected window, not just the data in it (a zoom still
      // narrows it).
      scales: { x: { time: true, range: function () { return [series.window.from_ms / 1000, series.window.to_ms / 1000]; } }, y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } },
      axes: [{}, { label: "latency (ms)", size: 60 }],
      hooks: {
        setScale: [function (u, key) {
          if (key !== "x") return;
          container.setAttribute("data-x-min", String(u.scales.x.min));
          container.setAttribute("data-x-max", String(u.scales.x.max));
        }],
      },
      series: [{}].concat(regions.map(function (r, i) {
        return {
          label: r.region,
          stroke: PALETTE[i % PALETTE.length],
          width: 2,
          points: { show: false },
          value: function (u, v) { return v === null || v === undefined ? "–" : ms(v); },
        };
      }), [{
        label: "failures",
        stroke: "#dc2626",
        fill: "#dc2626",
        paths: function () { return null; },
        points: { show: true, size: 8, stroke: "#dc2626", fill: "#dc2626" },
        value: function (u, v, si, i) {
          var x = i === null || i === undefined ? null : u.data[0][i];
          return x !== null && failedAt[x] ? String(failedAt[x]) : "–";
        },
      }]),
    };
    plot = new uPlot(opts, data, container);
    container.setAttribute("data-series-count", String(regions.length));
    container.setAttribute("data-series-labels", regions.map(function (r) { return r.region; }).join(","));
  }

  function renderPhases(phases) {
    var body = document.getElementById("phases").tBodies[0];
    body.textContent = "";
    var widest = 0;
    phases.regions.forEach(function (r) {
      widest = Math.max(widest, PHASES.reduce(function (sum, p) { return sum + r[p[0]]; }, 0));
    });
    phases.regions.forEach(function (r) {
      var bar = el("div", { className: "bar" });
      PHASES.forEach(function (p) {
        var share = widest > 0 ? (r[p[0]] / widest) * 100 : 0;
        var seg = el("span", { title: p[1] + " " + ms(r[p[0]]) });
        seg.style.width = share.toFixed(2) + "%";
        seg.style.background = p[2];
        bar.appendChild(seg);
      });
      var row = el("tr", {}, [el("td", { className: "region", text: r.region })]);
      PHASES.forEach(function (p) { row.appendChild(el("td", { className: "num", text: ms(r[p[0]]) })); });
      row.appendChild(el("td", { className: "num", text: ms(r.warm_ttfb_ms) }));
      row.appendChild(el("td", { className: "bar-col" }, [bar]));
      body.appendChild(row);
    });
    if (phases.regions.length === 0) {
      body.appendChild(el("tr", {}, [el("td", { colspan: "8", className: "muted", text: "No answered executions in this window." })]));
    } else {
      var legend = el("tr", { className: "legend" }, [el("td", { colspan: "8" }, PHASES.map(function (p) {
        var key = el("span", { className: "key" });
        key.style.background = p[2];
        return el("span", { className: "legend-item" }, [key, document.createTextNode(p[1])]);
      }))]);
      body.appendChild(legend);
    }
  }

  function renderFailures(failures) {
    var body = document.getElementById("failures").tBodies[0];
    body.textContent = "";
    failures.failures.forEach(function (f) {
      body.appendChild(el("tr", {}, [
        el("td", { text: when(f.at_ms) }),
        el("td", { className: "region", text: f.region }),
        el("td", { className: "num", text: f.status_code ? String(f.status_code) : "–" }),
        el("td", { text: f.error_class || "–" }),
        el("td", { className: "message", text: f.error_message || "" }),
      ]));
    });
    if (failures.failures.length === 0) {
      body.appendChild(el("tr", {}, [el("td", { colspan: "5", className: "muted", text: "No failures in this window." })]));
    }
    document.getElementById("failures").setAttribute("data-failure-count", String(failures.failures.length));
  }

  function renderSettings(settings, overview, id) {
    var body = document.getElementById("settings").tBodies[0];
    body.textContent = "";
    var url = settings.url;
    if (!url && overview) {
      overview.checks.forEach(function (c) { if (c.check_id === id) url = c.url; });
    }
    document.getElementById("check-url").textContent = url || "";
    if (!settings.configured) {
      body.appendChild(el("tr", {}, [el("td", { className: "muted", text: "Not in the configured checks: settings unknown." })]));
      document.getElementById("settings").setAttribute("data-configured", "false");
      return;
    }
    var rows = [
      ["URL", settings.url],
      ["Method", settings.method],
      ["Interval", duration(settings.interval_ms)],
      ["Timeout", duration(settings.timeout_ms)],
      ["Requests", String(settings.requests)],
      ["Regions", settings.regions.length ? settings.regions.join(", ") : "every region"],
      ["Tags", tagText(settings.tags).join(" ") || "–"],
    ];
    rows.forEach(function (r) {
      body.appendChild(el("tr", {}, [el("th", { text: r[0] }), el("td", { text: r[1] })]));
    });
    document.getElementById("settings").setAttribute("data-configured", "true");
  }

  function renderCheckUptime(history) {
    var box = document.getElementById("uptime");
    box.textContent = "";
    box.appendChild(uptimeBars(history, true));
    document.getElementById("uptime-total").textContent = history.availability_pct === null
      ? "No executions in 90 days."
      : pct(history.availability_pct) + " over 90 days (" + history.passed + " of " + history.samples + " executions passed)";
  }

  function loadCheck() {
    var id = decodeURIComponent(location.pathname.split("/")[2] || "");
    document.getElementById("check-id").textContent = id;
    document.title = "webmon · " + id;
    document.getElementById("back").setAttribute("href", "/?since=" + encodeURIComponent(since));
    var base = "/api/checks/" + encodeURIComponent(id) + "/";
    var q = "?since=" + encodeURIComponent(since);
    Promise.all([getJson(base + "series" + q), getJson(base + "phases" + q), getJson(base + "failures" + q), loadAlerts(),
      getJson(base + "settings"), getJson(base + "uptime?days=90")])
      .then(function (all) {
        setStatus(all[0].regions.length === 0 ? "No results for this check in this window." : "");
        renderChart(all[0]);
        renderPhases(all[1]);
        renderFailures(all[2]);
        renderIncidents(all[3], id);
        renderCheckUptime(all[5]);
        if (all[4].configured) renderSettings(all[4], null, id);
        else getJson("/api/overview?since=" + encodeURIComponent(since))
          .then(function (o) { renderSettings(all[4], o, id); })
          .catch(function () { renderSettings(all[4], null, id); });
      })
      .catch(function (e) { setStatus("Failed to load the check: " + e.message, true); });
  }

  // ---- public status page ---------------------------------------------------------

  var STATE_WORDS = { up: "operational", degraded: "degraded", down: "down", stale: "no recent data", pending: "not checked yet" };

  function renderStatus(view) {
    var problems = view.checks.filter(function (c) { return c.state !== "up"; }).length;
    var headline = document.getElementById("status-headline");
    headline.textContent = view.checks.length === 0 ? "No public services"
      : problems === 0 ? "All systems operational" : problems + " of " + view.checks.length + " services have problems";
    var table = document.getElementById("public-checks");
    var body = table.tBodies[0];
    body.textContent = "";
    view.checks.forEach(function (c) {
      var row = el("tr", {}, [
        el("td", { className: "check", text: c.check_id }),
        el("td", {}, [el("span", { className: "badge " + c.state, text: STATE_WORDS[c.state] || c.state })]),
        el("td", { className: "num", text: c.availability_pct === null ? "–" : pct(c.availability_pct) }),
        el("td", { className: "bar-col" }, [uptimeBars(c, false)]),
      ]);
      row.setAttribute("data-check-id", c.check_id);
      row.setAttribute("data-state", c.state);
      body.appendChild(row);
    });
    table.setAttribute("data-check-count", String(view.checks.length));
    var list = document.getElementById("open-incidents");
    list.textContent = "";
    view.incidents.forEach(function (i) {
      list.appendChild(el("li", {}, [
        el("span", { className: "badge alert " + i.level.toLowerCase(), text: i.level }),
        document.createTextNode(" " + i.check_id + " since " + when(i.opened_at_ms)),
      ]));
    });
    list.setAttribute("data-incident-count", String(view.incidents.length));
    document.getElementById("incidents-section").hidden = view.incidents.length === 0;
    setStatus(view.checks.length === 0 ? "No service is published on this page." : "");
  }

  function loadStatus() {
    getJson("/api/status")
      .then(renderStatus)
      .catch(function (e) { setStatus("Failed to load the status: " + e.message, true); });
  }

  var page = document.body.getAttribute("data-page");
  var load = page === "check" ? loadCheck : page === "status" ? loadStatus : loadOverview;
  setupFilters();
  setupSince(load);
  load();
  setInterval(load, REFRESH_MS);
  window.addEventListener("resize", function () {
    var container = document.getElementById("chart");
    if (plot && container) plot.setSize({ width: Math.max(320, container.clientWidth), height: 320 });
  });
})();
