// The API key of this tab: kept in sessionStorage only, sent to the API in the Authorization header.
"use strict";
const imagegateKey = (() => {
  const STORE = "imagegate.key";
  const listeners = [];
  const form = document.getElementById("key-form");
  const input = document.getElementById("api-key");
  const get = () => sessionStorage.getItem(STORE) || "";
  const set = (value) => {
    if (value) sessionStorage.setItem(STORE, value); else sessionStorage.removeItem(STORE);
    for (const listener of listeners) listener(get());
  };
  input.value = get();
  form.addEventListener("submit", (event) => { event.preventDefault(); set(input.value.trim()); });
  input.addEventListener("change", () => set(input.value.trim()));
  document.getElementById("key-forget").addEventListener("click", () => { input.value = ""; set(""); });
  return { get, onChange: (listener) => listeners.push(listener) };
})();

// One API call: JSON in, JSON out; an error answer becomes an Error with the contract's message and code.
async function imagegateApi(path, options = {}) {
  const key = imagegateKey.get();
  const headers = { ...(options.headers || {}) };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method: options.method || "GET", headers, body: options.body, signal: options.signal, credentials: "omit" });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw Object.assign(new Error(`The gateway could not be reached: ${error.message}`), { code: "network_error", status: 0 });
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = (data && data.error) || {};
    throw Object.assign(new Error(detail.message || `HTTP ${response.status}`), { code: detail.code || String(response.status), status: response.status, param: detail.param });
  }
  return { data, headers: response.headers };
}

function imagegateUsd(micros) {
  const sign = micros < 0 ? "-" : "";
  const abs = Math.abs(micros);
  const whole = Math.floor(abs / 1e6);
  let frac = String(abs % 1e6).padStart(6, "0").replace(/0+$/, "");
  if (frac.length < 2) frac = frac.padEnd(2, "0");
  return `${sign}$${whole.toLocaleString("en-US")}.${frac}`;
}

function imagegateShowError(box, error) {
  box.hidden = false;
  box.textContent = "";
  const message = document.createElement("span");
  message.className = "error-message";
  message.textContent = error.message;
  const code = document.createElement("code");
  code.className = "error-code";
  code.textContent = error.code || "error";
  box.append(message, " ", code);
}
