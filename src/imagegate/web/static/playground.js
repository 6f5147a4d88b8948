// The playground: controls from the model's capabilities, a quote before each generation, the images after
// (each opens full size), with the time the gateway took (its Server-Timing header) and what was billed.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("gen-form");
  const fields = { model: $("f-model"), size: $("f-size"), n: $("f-n"), quality: $("f-quality"), style: $("f-style"), format: $("f-format"), compression: $("f-compression"), prompt: $("f-prompt") };
  const quoteBox = $("quote");
  const errorBox = $("error");
  const results = $("results");
  const button = $("generate");
  const elapsed = $("elapsed");
  const modelState = $("model-state");
  let models = [];
  let quoteToken = 0;

  const fill = (select, values, chosen, emptyLabel) => {
    const previous = chosen !== undefined ? chosen : select.value;
    select.textContent = "";
    if (!values.length) {
      const option = new Option(emptyLabel, "");
      select.append(option);
      select.disabled = true;
      return;
    }
    select.disabled = false;
    for (const value of values) select.append(new Option(value, value));
    select.value = values.includes(previous) ? previous : values[0];
  };

  const current = () => models.find((m) => m.id === fields.model.value);

  const showState = () => {
    const model = current();
    const state = model && model.imagegate.availability ? model.imagegate.availability.state : "available";
    modelState.textContent = state === "not_configured"
      ? "Not configured on this gateway: a live key gets 503 no_route_available; a test key still gets free previews."
      : state === "degraded" ? "Degraded: its upstream is failing now; requests may answer 503 until it recovers." : "";
    modelState.className = state === "available" ? "help" : "warning";
  };

  const applyCapabilities = (defaults = {}) => {
    const model = current();
    if (!model) return;
    showState();
    const caps = model.imagegate.capabilities;
    fill(fields.size, caps.sizes, defaults.size || (caps.sizes.includes(fields.size.value) ? fields.size.value : caps.sizes.includes("1024x1024") ? "1024x1024" : caps.sizes[0]));
    fill(fields.n, Array.from({ length: caps.max_n }, (_, i) => String(i + 1)), defaults.n);
    fill(fields.quality, caps.qualities, defaults.quality || (caps.qualities.includes("medium") ? "medium" : undefined), "not supported");
    fill(fields.style, caps.styles, defaults.style, "not supported");
    fill(fields.format, caps.output_formats, defaults.format);
    toggleCompression();
  };

  const toggleCompression = () => {
    const compressible = fields.format.value === "webp" || fields.format.value === "jpeg";
    fields.compression.disabled = !compressible;
  };

  const body = () => {
    const request = { model: fields.model.value, prompt: fields.prompt.value, size: fields.size.value, n: Number(fields.n.value), output_format: fields.format.value, response_format: "url" };
    if (!fields.quality.disabled) request.quality = fields.quality.value;
    if (!fields.style.disabled) request.style = fields.style.value;
    if (!fields.compression.disabled) request.output_compression = Number(fields.compression.value);
    return request;
  };

  const refreshQuote = async () => {
    const token = ++quoteToken;
    if (!imagegateKey.get()) { quoteBox.textContent = "Enter a key to see the price."; return null; }
    if (!fields.prompt.value.trim()) { quoteBox.textContent = "Write a prompt to see the price."; return null; }
    quoteBox.textContent = "Pricing…";
    try {
      const { data } = await imagegateApi("/v1/images/quote", { method: "POST", body: JSON.stringify(body()) });
      if (token !== quoteToken) return null;
      quoteBox.textContent = quoteText(data);
      quoteBox.dataset.amountMicros = String(data.amount_micros);
      return data;
    } catch (error) {
      if (token !== quoteToken) return null;
      quoteBox.textContent = `No quote: ${error.message} (${error.code})`;
      return null;
    }
  };

  // A test key pays nothing: say so, and what a live key would pay for the same body.
  const quoteText = (data) => {
    const what = `${data.n} × ${data.size}`;
    if (data.live_amount_micros !== undefined) {
      const unit = Math.round(data.live_amount_micros / data.n);
      return `Quote: free with a test key — a live key would pay ${imagegateUsd(data.live_amount_micros)} (${data.n} × ${imagegateUsd(unit)}) for ${what}`;
    }
    return `Quote: ${imagegateUsd(data.amount_micros)} for ${what} (${imagegateUsd(data.unit_price_micros)} each) — held now, charged per delivered image`;
  };

  // The gateway's own time for the request, from `Server-Timing: gateway;dur=…` (milliseconds).
  const gatewaySeconds = (headers) => {
    const match = /gateway;dur=([0-9.]+)/.exec(headers.get("server-timing") || "");
    return match ? Number(match[1]) / 1000 : null;
  };

  let timer = null;
  const scheduleQuote = () => {
    quoteToken += 1;  // an answer for the old body is never shown
    quoteBox.textContent = "Pricing…";
    clearTimeout(timer);
    timer = setTimeout(refreshQuote, 250);
  };

  const costText = (billing) => {
    if (!billing) return "";
    if (billing.live_amount_micros !== undefined) {
      const live = Math.round(billing.live_amount_micros / Math.max(1, billing.images));
      return `free with a test key (a live key: ${imagegateUsd(live)})`;
    }
    return imagegateUsd(billing.unit_price_micros);
  };

  const show = (data, request, seconds) => {
    results.textContent = "";
    const cost = costText(data.billing);
    const took = seconds === null ? "" : ` · ${seconds.toFixed(1)} s at the gateway`;
    data.data.forEach((item, index) => {
      const figure = document.createElement("figure");
      const zoom = document.createElement("a");
      zoom.className = "zoom";
      zoom.href = item.url;
      zoom.dataset.zoom = "";
      const img = document.createElement("img");
      img.src = item.url;
      img.alt = `Image ${index + 1} for: ${request.prompt}`;
      img.loading = "eager";
      zoom.append(img);
      const caption = document.createElement("figcaption");
      const revised = document.createElement("p");
      revised.className = "revised";
      revised.textContent = `Revised prompt: ${item.revised_prompt || request.prompt}`;
      const facts = document.createElement("p");
      facts.className = "facts";
      facts.textContent = `${request.model} · ${request.size} · ${cost}${took}`;
      const link = document.createElement("a");
      link.href = item.url;
      link.download = "";
      link.textContent = "Download";
      caption.append(revised, facts, link);
      figure.append(zoom, caption);
      results.append(figure);
    });
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    if (!imagegateKey.get()) { imagegateShowError(errorBox, { message: "Enter an API key first.", code: "missing_api_key" }); $("api-key").focus(); return; }
    const request = body();
    button.disabled = true;
    const started = performance.now();
    elapsed.hidden = false;
    elapsed.textContent = "waiting 0.0 s";
    const tick = setInterval(() => { elapsed.textContent = `waiting ${((performance.now() - started) / 1000).toFixed(1)} s`; }, 100);
    results.setAttribute("aria-busy", "true");
    let gateway = null;
    try {
      await refreshQuote();
      const { data, headers } = await imagegateApi("/v1/images/generations", { method: "POST", body: JSON.stringify(request) });
      gateway = gatewaySeconds(headers);
      show(data, request, gateway);
    } catch (error) {
      imagegateShowError(errorBox, error);
    } finally {
      clearInterval(tick);
      elapsed.textContent = gateway === null ? "" : `${gateway.toFixed(1)} s at the gateway`;
      elapsed.hidden = gateway === null;
      button.disabled = false;
      results.removeAttribute("aria-busy");
    }
  });

  fields.model.addEventListener("change", () => { applyCapabilities(); scheduleQuote(); });
  fields.format.addEventListener("change", toggleCompression);
  for (const field of Object.values(fields)) {
    field.addEventListener("change", scheduleQuote);
    field.addEventListener("input", scheduleQuote);
  }
  imagegateKey.onChange(() => { errorBox.hidden = true; scheduleQuote(); });  // an old key's error is gone

  // A request the library handed over ("Open in playground"), used once.
  const takePrefill = () => {
    const saved = sessionStorage.getItem("imagegate.prefill");
    sessionStorage.removeItem("imagegate.prefill");
    try { return saved ? JSON.parse(saved) : null; } catch { return null; }
  };

  imagegateApi("/v1/models").then(({ data }) => {
    models = data.data;
    const params = new URLSearchParams(location.search);
    const prefill = takePrefill() || {};
    fill(fields.model, models.map((m) => m.id), prefill.model || params.get("model") || "gpt-image-2");
    applyCapabilities({ size: prefill.size, quality: prefill.quality, format: prefill.output_format });
    if (prefill.prompt) fields.prompt.value = prefill.prompt;
    form.dataset.ready = "true";
    scheduleQuote();
  }, (error) => imagegateShowError(errorBox, error));
})();
