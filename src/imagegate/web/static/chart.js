// A bar chart of one field of a daily series, drawn as SVG into <figure class="chart" data-series=…>.
"use strict";
function imagegateChart(figure, series) {
  const NS = "http://www.w3.org/2000/svg";
  const field = figure.dataset.field;
  const money = figure.dataset.money === "yes";
  const values = series.map((day) => day[field]);
  const max = Math.max(1, ...values);
  const width = 600, height = 160, left = 8, bottom = 20, top = 8;
  const step = (width - left * 2) / Math.max(1, series.length);
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  const total = values.reduce((a, b) => a + b, 0);
  const label = `${figure.dataset.label}: total ${money ? imagegateUsd(total) : total} over ${series.length} days`;
  svg.setAttribute("aria-label", label);
  const axis = document.createElementNS(NS, "line");
  axis.setAttribute("class", "axis");
  axis.setAttribute("x1", left); axis.setAttribute("x2", width - left);
  axis.setAttribute("y1", height - bottom); axis.setAttribute("y2", height - bottom);
  svg.append(axis);
  series.forEach((day, i) => {
    const value = day[field];
    const h = ((height - bottom - top) * value) / max;
    const rect = document.createElementNS(NS, "rect");
    rect.setAttribute("class", "bar");
    rect.setAttribute("x", left + i * step + 1);
    rect.setAttribute("width", Math.max(1, step - 2));
    rect.setAttribute("y", height - bottom - h);
    rect.setAttribute("height", h);
    const title = document.createElementNS(NS, "title");
    title.textContent = `${day.date}: ${money ? imagegateUsd(value) : value}`;
    rect.append(title);
    svg.append(rect);
  });
  for (const [index, anchor] of [[0, "start"], [series.length - 1, "end"]]) {
    if (!series[index]) continue;
    const text = document.createElementNS(NS, "text");
    text.setAttribute("x", anchor === "start" ? left : width - left);
    text.setAttribute("y", height - 5);
    text.setAttribute("text-anchor", anchor);
    text.textContent = series[index].date;
    svg.append(text);
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
