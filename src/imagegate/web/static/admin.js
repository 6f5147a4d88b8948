// The admin dashboard's spend chart, from the series the page carries.
"use strict";
for (const figure of document.querySelectorAll("figure.chart[data-series]")) {
  imagegateChart(figure, JSON.parse(figure.dataset.series));
}

// The price form offers only the chosen model's qualities and sizes (without script: all of them,
// and the server refuses a pair the model does not have).
(() => {
  const model = document.getElementById("price-model");
  if (!model) return;
  const narrow = (select) => {
    let first = null;
    for (const option of select.options) {
      const fits = option.dataset.models.split(" ").includes(model.value);
      option.hidden = !fits;
      option.disabled = !fits;
      if (fits && first === null) first = option;
    }
    if (select.selectedOptions[0] && select.selectedOptions[0].disabled && first) select.value = first.value;
  };
  const apply = () => { narrow(document.getElementById("price-quality")); narrow(document.getElementById("price-size")); };
  model.addEventListener("change", apply);
  apply();
})();
