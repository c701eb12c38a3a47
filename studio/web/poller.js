// The poller every live component shares (studio/live_chart.py puts this file in front of each module):
// one per run URL for the whole browser tab, asking the live API (studio/api.py) only for what is new.
const KEEP = 5000;  // rows of each kind a poller keeps for charts that catch up (a remount, a tab switch)

function pollers() { return window.__ganPollers || (window.__ganPollers = {}); }

async function tick(p) {
  for (const sub of [...p.subs]) if (!sub.alive()) p.subs.delete(sub);
  if (!p.subs.size) { clearInterval(p.timer); delete pollers()[p.url]; return; }
  if (p.busy || document.hidden) return;  // a background tab asks for nothing
  p.busy = true;
  try {
    // the URL may carry a query of its own (?lang=zh: the status strip's labels in the page's language)
    const r = await fetch(`${p.url}${p.url.includes("?") ? "&" : "?"}train=${p.next.train}&eval=${p.next.eval}`,
                          {cache: "no-store"});
    if (!r.ok) return;
    const u = await r.json();
    for (const kind of ["train", "eval"]) {
      if (u[kind + "_start"] !== p.next[kind]) continue;  // an answer to an older question
      for (const row of u[kind]) p.rows[kind].push(row);
      p.next[kind] += u[kind].length;
      const extra = p.rows[kind].length - KEEP;
      if (extra > 0) { p.rows[kind].splice(0, extra); p.first[kind] += extra; }
    }
    p.last = u;
    for (const sub of p.subs) {
      try { sub.update(p, u); } catch (e) { console.error(e); }
    }
  } catch (e) {
    // the server restarted or the network blinked: the next tick asks again
  } finally {
    p.busy = false;
  }
}

// subscribe({url, every_ms, held: {train, eval}}, update(poller, answer), el) -> {stop()}: a new poller
// starts where the page's rows end (held); the subscription ends when `el` leaves the page.
function subscribe(poll, update, el) {
  const all = pollers();
  let p = all[poll.url];
  if (p && p.every !== poll.every_ms) { clearInterval(p.timer); p.timer = null; }
  if (!p) {
    const held = poll.held || {train: 0, eval: 0};
    p = all[poll.url] = {url: poll.url, subs: new Set(), rows: {train: [], eval: []},
                         first: {train: held.train, eval: held.eval}, next: {train: held.train, eval: held.eval},
                         busy: false, timer: null, last: null};
  }
  p.every = poll.every_ms;
  if (!p.timer) p.timer = setInterval(() => tick(p), poll.every_ms);
  let stopped = false;
  const sub = {update, alive: () => !stopped && el.isConnected, stop: () => { stopped = true; }};
  p.subs.add(sub);
  return sub;
}
