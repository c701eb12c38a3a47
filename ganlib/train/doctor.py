"""The training doctor: plain-language warnings read from a run's curves, each with the seeds' remedy.

    findings = diagnose(train_rows, eval_rows, loss="ns")

Rules look at the recent window of logged steps, so a problem that has passed stops being reported.
A finding's texts are English; each also keeps its pieces as (template, values), the templates marked N_ for
the app's translation catalogue, so the app shows them in its language: finding.text("detail", translate).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ganlib.config import field_applies

PROBABILITY_LOSSES = ("ns", "bce", "lsgan")   # D outputs are probabilities (lsgan: scores near 0..1)


def d_output_names(model: str = "") -> tuple[str, str]:
    """What the logged d_real and d_fake are, in symbols: ("D(x)", "D(G(z))"), or for a CycleGAN (whose
    fakes are translations, G(a) and F(b), not samples from noise) ("D(real)", "D(translated)")."""
    return ("D(real)", "D(translated)") if model == "cyclegan" else ("D(x)", "D(G(z))")


def N_(text: str) -> str:
    """Marks a text for the app's catalogue (babel.cfg); the app translates it where it is shown."""
    return text


Pieces = tuple[tuple[str, dict], ...]   # a text as (template, its values) pieces, read one after another


def piece(template: str, **values) -> Pieces:
    """One piece of a finding's text: a str.format template (marked N_ where it is written) and its values."""
    return ((template, values),)


def joined(pieces: Pieces, translate=lambda text: text) -> str:
    """The text of pieces, each template passed through `translate` before its values are filled in."""
    return "".join(translate(template).format(**values) for template, values in pieces)


@dataclass
class Finding:
    level: str      # "error" | "warning" | "info"
    title: str      # one line: what is happening
    detail: str     # the numbers behind it
    remedy: str     # what to change
    step: int = 0   # where it was seen
    fix: str = ""   # a key of FIXES: the remedy as a config change (a one-click "new run with this fix")
    pieces: dict[str, Pieces] = field(default_factory=dict, repr=False, compare=False)  # title/detail/remedy

    def text(self, which: str, translate=lambda text: text) -> str:
        """The title, detail or remedy in another language: translate(template) for each piece (the app's
        gettext); the English text where the finding was made without pieces."""
        return joined(self.pieces[which], translate) if which in self.pieces else getattr(self, which)


def finding(level: str, title: Pieces, detail: Pieces, remedy: Pieces, step: int = 0, fix: str = "") -> Finding:
    """A Finding whose texts are made of pieces (English here, translatable by the app)."""
    return Finding(level, joined(title), joined(detail), joined(remedy), step, fix,
                   {"title": title, "detail": detail, "remedy": remedy})


def _finite(values: list) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _std(values: list[float]) -> float:
    m = _mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / len(values)) if values else float("nan")


def recent(rows: list[dict], min_rows: int = 5, max_rows: int = 50) -> list[dict]:
    """The last quarter of the rows, between min_rows and max_rows of them."""
    n = max(min_rows, min(max_rows, len(rows) // 4))
    return rows[-n:]


def diagnose(train_rows: list[dict], eval_rows: list[dict] | None = None, loss: str = "ns",
             model: str = "") -> list[Finding]:
    """Findings, most serious first. Needs a few logged rows before it says anything about trends.
    `model` (a TrainConfig.model) only changes how D's outputs are named (d_output_names)."""
    names = d_output_names(model)
    out: list[Finding] = []
    out += _nan(train_rows)
    if out:
        return out  # after a NaN nothing else in the curves means anything
    if len(train_rows) >= 5:
        window = recent(train_rows)
        out += _d_not_learning(train_rows, window, loss, names, eval_rows or [])
        out += _d_too_strong(window, loss, names)
        out += _oscillating(window, loss)
        out += _exploding_gradients(train_rows, window)
    out += _mode_collapse(eval_rows or [])
    out += _narrowing_histogram(eval_rows or [])
    if len(train_rows) >= 5 and not any(f.level != "info" for f in out):
        out += _healthy(recent(train_rows), loss, names)
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(out, key=lambda f: order[f.level])


def _nan(rows: list[dict]) -> list[Finding]:
    for row in rows:
        for key in ("d_loss", "g_loss"):
            v = row.get(key)
            if isinstance(v, (int, float)) and not math.isfinite(v):
                title = (N_("The D loss became {value} at step {step}.") if key == "d_loss"
                         else N_("The G loss became {value} at step {step}."))
                return [finding("error", piece(title, value=v, step=row.get("step", "?")),
                                piece(N_("Once a loss is NaN or infinite every later step is meaningless; the run "
                                         "stops and keeps its last good checkpoint.")),
                                piece(N_("Lower both learning rates (halve them), turn on gradient clipping (1 to 10), "
                                         "or switch to the WGAN-GP or hinge loss.")), int(row.get("step", 0)), fix="nan")]
    return []


# steps a learning D is given before "not learning" is said: a CycleGAN whose R1 was just turned off opens
# its gap slowly (0.02 at step 50, 0.05 at step 100, 0.09 at step 150), a dead one stays near 0.003
D_LEARNS_WITHIN = 150


def _d_not_learning(rows: list[dict], window: list[dict], loss: str, names: tuple[str, str],
                    evals: list[dict]) -> list[Finding]:
    """D's outputs have never separated: real and fake both scored ~0.5 from the first log on. A balanced game
    also sits near 0.5, but its D told real from fake early on (gaps of 0.15-0.7 in the first logs of every
    run that learned, and about 0.1 later); a D held flat by R1 or too low a learning rate never does, and G
    then learns nothing from it (a CycleGAN under R1 1, the 2-D toy GAN under DCGAN's rates). Unless the
    evaluations say G does learn: a D without BatchNorm under R1 10 stays within 0.003 of 0.5 and still leads
    G from FID 64 to 1.4 (the Mode-collapse lab's cured recipe), so a FID that fell to under half its first
    value rules the finding out."""
    if loss not in PROBABILITY_LOSSES:
        return []
    fids = _finite([r.get("fid") for r in evals])
    if len(fids) >= 2 and min(fids[1:]) < fids[0] / 2:
        return []
    gaps = [r["d_real"] - r["d_fake"] for r in rows if _finite([r.get("d_real")]) and _finite([r.get("d_fake")])]
    d_real = _finite([r.get("d_real") for r in window])
    d_fake = _finite([r.get("d_fake") for r in window])
    if len(gaps) < 5 or not d_real or not d_fake or int(rows[-1].get("step", 0)) < D_LEARNS_WITHIN:
        return []
    recent_gap = _mean(d_real) - _mean(d_fake)
    if max(gaps) >= 0.05 or abs(recent_gap) >= 0.02 or not all(0.4 <= v <= 0.6 for v in (_mean(d_real), _mean(d_fake))):
        return []
    d = _finite([r.get("d_loss") for r in window])
    detail = piece(N_("Recent {real} {real_mean:.3f}, {fake} {fake_mean:.3f}; the largest gap logged is {gap:.3f}"),
                   real=names[0], real_mean=_mean(d_real), fake=names[1], fake_mean=_mean(d_fake), gap=max(gaps))
    if d:
        detail += piece(N_(", and D's loss {d_loss:.3f} is a coin toss's"), d_loss=_mean(d))
    detail += piece(N_(". G gets no signal from such a D, so its samples do not improve."))
    return [finding("warning",
                    piece(N_("D is not learning: it scores real and fake alike, about 0.5, and has since the start.")),
                    detail,
                    piece(N_("Turn the R1 penalty off (or lower it), or let D learn faster (e.g. 4x its learning "
                             "rate); choosing the model in the form fills in its own recipe, a good start.")),
                    int(window[-1].get("step", 0)), fix="d_not_learning")]


def _d_too_strong(window: list[dict], loss: str, names: tuple[str, str]) -> list[Finding]:
    d = _finite([r.get("d_loss") for r in window])
    g = _finite([r.get("g_loss") for r in window])
    if len(d) < 4 or len(g) < 4:
        return []
    half = len(g) // 2
    g_rising = _mean(g[half:]) > _mean(g[:half]) * 1.05 + 0.02
    near_zero = {"ns": 0.1, "bce": 0.1, "lsgan": 0.02, "hinge": 0.05}.get(loss)
    d_real = _finite([r.get("d_real") for r in window])
    d_fake = _finite([r.get("d_fake") for r in window])
    separated = (loss in PROBABILITY_LOSSES and d_real and d_fake
                 and _mean(d_real) > 0.95 and _mean(d_fake) < 0.05)
    if near_zero is None or not ((_mean(d) < near_zero and (g_rising or _mean(g) > 4)) or separated):
        return []
    detail = piece(N_("Recent D loss {d_loss:.3f}, G loss {g_loss:.2f}"), d_loss=_mean(d), g_loss=_mean(g))
    if g_rising:
        detail += piece(N_(" and climbing"))
    if d_real and d_fake:
        detail += piece("; {real} {real_mean:.2f}, {fake} {fake_mean:.2f}", real=names[0], real_mean=_mean(d_real),
                        fake=names[1], fake_mean=_mean(d_fake))
    detail += piece(N_(". D tells real from fake so easily that G gets almost no gradient to learn from."))
    return [finding("warning", piece(N_("D is too strong: its loss is near 0 while G's climbs.")), detail,
                    piece(N_("Lower D's learning rate (e.g. half of G's), use one-sided label smoothing 0.1 "
                             "(real targets 0.9), or give G more steps per D step.")), int(window[-1].get("step", 0)),
                    fix="d_too_strong")]


def _oscillating(window: list[dict], loss: str) -> list[Finding]:
    for key, name in (("g_loss", "G"), ("d_loss", "D")):
        v = _finite([r.get(key) for r in window])
        if len(v) < 6:
            continue
        swing = _std(v) / max(abs(_mean(v)), 1.0)
        diffs = [b - a for a, b in zip(v, v[1:])]
        turns = sum(1 for a, b in zip(diffs, diffs[1:]) if a * b < 0) / max(1, len(diffs) - 1)
        if swing > 0.5 and turns > 0.4:
            return [finding("warning",
                            piece(N_("The losses oscillate: {net}'s loss swings widely from one log to the next."),
                                  net=name),
                            piece(N_("Recent {net} loss {mean:.2f} ± {std:.2f} with the direction changing at "
                                     "{turns:.0%} of logged steps."), net=name, mean=_mean(v), std=_std(v), turns=turns),
                            piece(N_("Lower both learning rates (e.g. 1e-4), use a larger batch (e.g. 128), and keep "
                                     "Adam's beta1 at 0.5.")), int(window[-1].get("step", 0)), fix="oscillating")]
    return []


def _exploding_gradients(rows: list[dict], window: list[dict]) -> list[Finding]:
    earlier = rows[: len(rows) - len(window)]
    for key, name in (("grad_norm_d", "D"), ("grad_norm_g", "G")):
        now = _finite([r.get(key) for r in window])
        before = sorted(_finite([r.get(key) for r in earlier]))
        if not now or not before:
            continue
        median_before = before[len(before) // 2]
        if _mean(now) > 100 and _mean(now) > 10 * median_before:
            return [finding("warning", piece(N_("{net}'s gradient norm is exploding."), net=name),
                            piece(N_("Recent gradient norm {now:.0f}, against {before:.1f} earlier."),
                                  now=_mean(now), before=median_before),
                            piece(N_("Turn on gradient clipping (1 to 10) or lower the learning rates.")),
                            int(window[-1].get("step", 0)), fix="exploding")]
    return []


def _coverage(row: dict) -> tuple[str, float] | None:
    """(what, fraction covered) of an evaluation row: classes among the samples (digits), modes hit
    (2-D toys), or a plain "coverage" fraction; None if the row has none of them."""
    hist = row.get("class_histogram")
    if isinstance(row.get("class_coverage"), (int, float)):
        total = len(hist) if isinstance(hist, list) and hist else (1 if row["class_coverage"] <= 1 else 10)
        return "Class coverage", row["class_coverage"] / total
    if isinstance(row.get("modes_covered"), (int, float)) and row.get("num_modes"):
        return "Mode coverage", row["modes_covered"] / row["num_modes"]
    if isinstance(row.get("coverage"), (int, float)):
        return "Coverage", float(row["coverage"])
    return None


# the mode-collapse finding's detail for each kind of coverage (_coverage's first value)
COVERAGE_DETAIL = {
    "Class coverage": N_("Class coverage is {latest:.0%} at step {step} (best {best:.0%} at step {best_step})."),
    "Mode coverage": N_("Mode coverage is {latest:.0%} at step {step} (best {best:.0%} at step {best_step})."),
    "Coverage": N_("Coverage is {latest:.0%} at step {step} (best {best:.0%} at step {best_step})."),
}


def _mode_collapse(eval_rows: list[dict]) -> list[Finding]:
    out = []
    pts = [(int(r.get("step", 0)), *c) for r in eval_rows if (c := _coverage(r)) and math.isfinite(c[1])]
    if pts:
        best_step, _, best = max(pts, key=lambda p: p[2])
        step, what, latest = pts[-1]
        if (len(pts) >= 2 and latest < 0.8 * best) or latest < 0.5:
            out.append(finding("warning", piece(N_("Samples are collapsing to a few modes.")),
                               piece(COVERAGE_DETAIL[what], latest=latest, step=step, best=best, best_step=best_step),
                               piece(N_("Turn on minibatch discrimination (or minibatch std), use label smoothing, "
                                        "lower the learning rates, or try the WGAN-GP loss; the best checkpoint so "
                                        "far is the one to keep.")), step, fix="mode_collapse"))
    fid = [(int(r.get("step", 0)), float(r["fid"])) for r in eval_rows
           if isinstance(r.get("fid"), (int, float)) and math.isfinite(r["fid"])]
    if len(fid) >= 2:
        best_step, best = min(fid, key=lambda p: p[1])
        step, latest = fid[-1]
        if latest > 1.3 * best and latest - best > 2:
            out.append(finding("warning", piece(N_("Sample quality is getting worse (FID is rising).")),
                               piece(N_("FID {latest:.1f} at step {step}, best {best:.1f} at step {best_step}."),
                                     latest=latest, step=step, best=best, best_step=best_step),
                               piece(N_("Lower the learning rates or use the EMA generator; keep the best "
                                        "checkpoint.")), step, fix="fid_rising"))
    return out


def _narrowing_histogram(eval_rows: list[dict]) -> list[Finding]:
    """The class histogram's KL to uniform rising well above its best: G favours fewer digits, often
    before a digit disappears (coverage can still read 10/10). Reports the first step it was seen."""
    pts = [(int(r.get("step", 0)), float(r["class_kl_uniform"]), r.get("class_histogram")) for r in eval_rows
           if isinstance(r.get("class_kl_uniform"), (int, float)) and math.isfinite(r["class_kl_uniform"])]
    if len(pts) < 2:
        return []
    best_step, best, _ = min(pts, key=lambda p: p[1])
    step, latest, hist = pts[-1]
    rise = 0.1  # e.g. one digit grown from 10% to about 25% of the samples
    if not (latest > best + rise and (latest > 2 * best or latest > 0.5)):  # 0.5: one digit in ~40% of samples
        return []
    since = next(s for s, kl, _ in pts if s > best_step and kl > best + rise)
    detail = piece(N_("KL of the class histogram to uniform is {latest:.2f} at step {step} (best {best:.2f} at step "
                      "{best_step})"), latest=latest, step=step, best=best, best_step=best_step)
    if isinstance(hist, list) and sum(hist) > 0:
        top = sorted(range(len(hist)), key=lambda d: -hist[d])[:3]
        detail += piece(N_("; most frequent now: {digits}"),
                        digits=", ".join(f"{d} ({hist[d] / sum(hist):.0%})" for d in top))
    return [finding("warning",
                    piece(N_("The class histogram narrowed at step {step}: some digits are getting rarer."), step=since),
                    detail + piece("."),
                    piece(N_("Mode collapse is starting: keep the checkpoint from before it, and try minibatch "
                             "discrimination, PacGAN packing (--pack 2 to 4), label smoothing or lower learning "
                             "rates.")), since)]


def _healthy(window: list[dict], loss: str, names: tuple[str, str]) -> list[Finding]:
    if loss not in ("ns", "bce"):
        return []
    d_real = _finite([r.get("d_real") for r in window])
    d_fake = _finite([r.get("d_fake") for r in window])
    if d_real and d_fake and 0.3 <= _mean(d_fake) <= _mean(d_real) <= 0.7:
        return [finding("info", piece(N_("A healthy game: {real} and {fake} are both near 0.5."), real=names[0],
                                      fake=names[1]),
                        piece(N_("Recent {real} {real_mean:.2f}, {fake} {fake_mean:.2f}."), real=names[0],
                              real_mean=_mean(d_real), fake=names[1], fake_mean=_mean(d_fake)),
                        piece(N_("Nothing to change.")), int(window[-1].get("step", 0)))]
    return []


# ---------------------------------------------------------------- one-click fixes
# Each remedy as a change to a run's TrainConfig: {field: new value} from the old config. The page offers
# "start a new run with this fix": the same settings (seed included) with only these changed.

def _halve_lrs(c) -> dict:
    return {"lr_g": c.lr_g / 2, "lr_d": c.lr_d / 2}


def _variety(c) -> dict:
    """The minibatch feature that lets D see a batch's variety, where the model's D takes one (StyleGAN's D
    has its own minibatch std; CycleGAN's none)."""
    if field_applies("minibatch_std", c.model):
        return {"minibatch_std": True}
    return {"minibatch_discrimination": True} if field_applies("minibatch_discrimination", c.model) else {}


FIXES = {
    "nan": lambda c: {**_halve_lrs(c), "grad_clip": c.grad_clip or 5.0},
    # R1 first (it held a CycleGAN's D flat); with R1 off, D's learning rate (the 2-D toy GAN's D needs 4x)
    "d_not_learning": lambda c: {"r1_gamma": 0.0} if c.r1_gamma > 0 else {"lr_d": c.lr_d * 4},
    "d_too_strong": lambda c: {"lr_d": min(c.lr_d, c.lr_g / 2), "label_smoothing": max(c.label_smoothing, 0.1)},
    "oscillating": lambda c: {"lr_g": min(c.lr_g, 1e-4), "lr_d": min(c.lr_d, 1e-4),
                              "batch_size": max(c.batch_size, 128), "beta1": 0.5},
    "exploding": lambda c: {"grad_clip": c.grad_clip or 5.0, **_halve_lrs(c)},
    # g_steps > 1 over-trains G against one D, a cause of collapse: back to one G step per D step
    "mode_collapse": lambda c: _variety(c) | {"label_smoothing": max(c.label_smoothing, 0.1),
                                               "g_steps": 1},
    "fid_rising": lambda c: {**_halve_lrs(c), "ema_decay": c.ema_decay or 0.999},
}


def doctor_fix(finding: Finding, config) -> tuple[object, str] | None:
    """(a copy of config with the finding's remedy applied, what changed in words), or None when the
    finding has no one-click fix or the fix changes nothing."""
    from dataclasses import replace

    if config is None or finding.fix not in FIXES:
        return None
    changes = {k: v for k, v in FIXES[finding.fix](config).items() if getattr(config, k) != v}
    if not changes:
        return None
    what = ", ".join(f"{k} {getattr(config, k)!r} → {v!r}" if not isinstance(v, float)
                     else f"{k} {getattr(config, k):g} → {v:g}" for k, v in changes.items())
    return replace(config, **changes), what
