// A bar chart of one field of a daily series, drawn as SVG into <figure class="chart" data-series=…>:
// a value axis (0 and the highest day), dates under the bars, a caption with the total and the
// busiest day, and "Nothing yet" over the empty axes when every day is zero. It is drawn at the
// figure's own width, so its text keeps its size on a phone, and redrawn when that width changes.
"use strict";
function imagegateChart(figure, series) {
  figure.imagegateSeries = series;
  const NS = "http://www.w3.org/2000/svg";
  const field = figure.dataset.field;
  const money = figure.dataset.money === "yes";
  const format = (value) => (money ? imagegateUsd(value) : String(value));
  const values = series.map((day) => day[field]);
  const total = values.reduce((a, b) => a + b, 0);
  const peak = Math.max(0, ...values);
  const max = Math.max(1, peak);
  const width = Math.max(280, Math.round(figure.clientWidth || 600));
  const height = 190, top = 12, bottom = 28;
  const axisLabel = format(max === 1 && peak === 0 ? 0 : peak);
  const left = Math.min(90, 16 + axisLabel.length * 7.5), right = 8;
  const plot = height - bottom - top;
  const step = (width - left - right) / Math.max(1, series.length);
  const el = (name, attrs, text) => {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img" });
  const busiest = series[values.indexOf(peak)];
  const label = total === 0
    ? `${figure.dataset.label}: nothing yet in the last ${series.length} days`
    : `${figure.dataset.label}: total ${format(total)} over ${series.length} days; highest ${format(peak)} on ${busiest.date}`;
  svg.setAttribute("aria-label", label);
  const base = height - bottom;
  svg.append(el("line", { class: "axis", x1: left, x2: width - right, y1: base, y2: base }));
  svg.append(el("line", { class: "axis", x1: left, x2: left, y1: top, y2: base }));
  svg.append(el("line", { class: "grid", x1: left, x2: width - right, y1: top, y2: top }));
  svg.append(el("text", { x: left - 6, y: base + 4, "text-anchor": "end" }, format(0)));
  if (total > 0) svg.append(el("text", { x: left - 6, y: top + 4, "text-anchor": "end" }, format(peak)));
  series.forEach((day, i) => {
    const value = day[field];
    const h = (plot * value) / max;
    const rect = el("rect", { class: "bar", x: left + i * step + 1, width: Math.max(1, step - 2), y: base - h, height: h });
    rect.append(el("title", {}, `${day.date}: ${format(value)}`));
    svg.append(rect);
  });
  const short = (date) => new Date(`${date}T00:00:00Z`).toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
  const marks = series.length > 2 ? [0, Math.floor((series.length - 1) / 2), series.length - 1] : series.map((_, i) => i);
  for (const index of marks) {
    const anchor = index === 0 ? "start" : index === series.length - 1 ? "end" : "middle";
    const x = anchor === "start" ? left : anchor === "end" ? width - right : left + index * step + step / 2;
    svg.append(el("text", { x, y: height - 8, "text-anchor": anchor }, short(series[index].date)));
  }
  if (total === 0) {
    svg.append(el("text", { class: "empty-chart", x: left + (width - left - right) / 2, y: top + plot / 2, "text-anchor": "middle" }, "Nothing yet"));
  }
  const caption = document.createElement("figcaption");
  caption.textContent = label;
  figure.replaceChildren(svg, caption);
}

if (typeof imagegateUsd === "undefined") {
  // admin pages load no key.js: the same exact formatting of micros as dollars
  window.imagegateUsd = (micros) => {
    const abs = Math.abs(micros);
    let frac = String(abs % 1e6).padStart(6, "0").replace(/0+$/, "");
    if (frac.length < 2) frac = frac.padEnd(2, "0");
    return `${micros < 0 ? "-" : ""}$${Math.floor(abs / 1e6).toLocaleString("en-US")}.${frac}`;
  };
}

// Redraw at the new width when a chart's figure is resized (a phone turned, a window narrowed).
if ("ResizeObserver" in window) {
  const widths = new WeakMap();
  const observer = new ResizeObserver((entries) => {
    for (const entry of entries) {
      const figure = entry.target;
      const width = Math.round(entry.contentRect.width);
      if (figure.imagegateSeries && widths.get(figure) !== width) {
        widths.set(figure, width);
        imagegateChart(figure, figure.imagegateSeries);
      }
    }
  });
  window.imagegateObserveChart = (figure) => observer.observe(figure);
  for (const figure of document.querySelectorAll("figure.chart")) observer.observe(figure);
} else {
  window.imagegateObserveChart = () => {};
}
