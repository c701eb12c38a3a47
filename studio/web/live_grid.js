// A run's latest sample grid (studio/live_chart.py live_grid), swapped in as soon as a new one is written.
export default function (component) {
  const {data, parentElement} = component;
  let box = parentElement.querySelector(".gs-grid");
  if (!box) {
    box = document.createElement("figure");
    box.className = "gs-grid";
    box.innerHTML = '<img alt="sample grid"><figcaption></figcaption>';
    parentElement.appendChild(box);
  }
  const img = box.querySelector("img"), cap = box.querySelector("figcaption");
  const show = (g) => {
    img.hidden = !g;
    if (!g) { cap.textContent = "The first sample grid appears once the model is built."; return; }
    const src = `/api/runs/${data.run}/grid/${g.step}.png?v=${g.version}`;
    if (img.getAttribute("src") !== src) img.setAttribute("src", src);  // the browser fetches only new grids
    cap.textContent = data.caption.replace("{step}", g.step);
  };
  show(data.grid);
  if (box.__sub) box.__sub.stop();
  box.__sub = data.poll ? subscribe(data.poll, (p, u) => { if (u.grid) show(u.grid); }, box) : null;
}
