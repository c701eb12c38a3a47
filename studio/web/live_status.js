// The monitor's status strip (studio/live_chart.py live_status): cells, progress bar, message.
function render(el, f) {
  const cells = f.cells.map(([label, value]) =>
    `<div class="gs-fig"><div class="gs-fig-label">${label}</div><div class="gs-fig-value">${value}</div></div>`);
  const bar = f.progress === null ? "" :
    `<div class="gs-progress" role="progressbar" aria-valuenow="${Math.round(f.progress * 100)}" aria-valuemin="0"
       aria-valuemax="100"><div style="width:${(f.progress * 100).toFixed(2)}%"></div></div>`;
  const msg = f.message ? `<div class="gs-fig-message">${f.message}</div>` : "";
  el.innerHTML = `<div class="gs-figs">${cells.join("")}</div>${bar}${msg}`;
}

export default function (component) {
  const {data, parentElement, setTriggerValue} = component;
  let el = parentElement.querySelector(".gs-status");
  if (!el) {
    el = document.createElement("div");
    el.className = "gs-status";
    parentElement.appendChild(el);
  }
  render(el, data.figures);
  let shown = JSON.stringify(data.figures), told = false;
  if (el.__sub) el.__sub.stop();
  el.__sub = data.poll ? subscribe(data.poll, (p, u) => {
    const now = JSON.stringify(u.figures);
    if (now !== shown) { shown = now; render(el, u.figures); }  // nothing changed: no DOM work at all
    if (u.figures.state !== data.figures.state && !told) {  // paused, finished, failed: the page re-runs once
      told = true;
      setTriggerValue("state", u.figures.state);
    }
  }, el) : null;
}
