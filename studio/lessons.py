"""The Lessons course: its chapters in order, each with its text, its one formula, a "try this" line and a
question for the class with its answer. The live widget of each chapter is in studio/lesson_widgets.py, the
page that shows them in studio/app_pages/0_Lessons.py.

Every course text goes through i18n.lesson_text (domain "lessons"; the Chinese catalogue is
studio/locale/zh/LC_MESSAGES/lessons.po): each string is written out inside its own lesson_text(...) call so
that Babel's extractor finds it, and chapters() is called on every run, so each session gets its own language.
A formula is LaTeX and the same in every language.
"""
from __future__ import annotations

from dataclasses import dataclass

from studio.i18n import lesson_text

# the chapters' slugs, in course order: ?chapter=<slug> opens one (the slugs never change: links live on slides)
SLUGS = ("game", "dcgan", "training", "cgan", "collapse", "latent", "stylegan", "cyclegan", "measuring")


@dataclass(frozen=True)
class Chapter:
    slug: str
    title: str
    paragraphs: tuple[str, ...]
    formula: str        # LaTeX for st.latex
    try_this: str
    question: str
    answer: str


def chapters() -> list[Chapter]:
    """The course in the session's language, in the order of SLUGS."""
    out = [
        Chapter(
            "game",
            lesson_text("The two-player game"),
            (lesson_text("A GAN is two networks playing one game. The generator G turns random noise z into a "
                         "sample; the discriminator D looks at a sample and gives the probability that it is real. "
                         "D is trained to tell real from generated, G is trained to make D wrong. G never sees the "
                         "data: all it learns comes through D's gradient."),
             lesson_text("D maximises V: D(x) near 1 on real data, D(G(z)) near 0 on fakes. G minimises it. In "
                         "practice G maximises log D(G(z)) instead (the non-saturating loss), because while D rejects "
                         "every fake, log(1 − D(G(z))) gives G almost no gradient.")),
            # three short lines: the formula fits the chapter's narrow text column, not only the projector's
            r"\begin{aligned}&\min_G \max_D V(D, G) = \\ &\quad \mathbb{E}_{x \sim p_{\mathrm{data}}}\big[\log D(x)\big]"
            r" \\ &\quad + \mathbb{E}_{z \sim p_z}\big[\log\big(1 - D(G(z))\big)\big]\end{aligned}",
            lesson_text("Press D update: D's verdict (blue: real, red: fake) changes under the purple points. Press "
                        "G update: the points move toward blue. Repeat a few times, then press Play."),
            lesson_text("G never looks at the real points. How does it find them?"),
            lesson_text("Through D. D has seen the real points, and its surface tells G which way is more real: G "
                        "moves its points up D's gradient. If D is poor, G learns the wrong thing, which is why the "
                        "two must stay in balance."),
        ),
        Chapter(
            "dcgan",
            lesson_text("DCGAN's building blocks"),
            (lesson_text("DCGAN (Radford et al. 2016) made GANs on images train reliably with a few rules: no pooling, "
                         "strided convolutions in D and transposed convolutions in G to change the resolution; batch "
                         "normalisation in both nets; ReLU in G with tanh at the output, LeakyReLU(0.2) in D; Adam "
                         "with learning rate 2e-4 and β1 = 0.5."),
             lesson_text("G starts from z as a 1×1 image with 100 channels; each transposed convolution doubles the "
                         "resolution and halves the channels. The formula gives each layer's output size. For 28-pixel "
                         "digits one layer has a 3×3 kernel, so that 4 becomes 7, not 8.")),
            r"H_{\mathrm{out}} = (H_{\mathrm{in}} - 1)\,s - 2p + k",
            lesson_text("Switch the image size between 28 and 32 and find the layer that changes. Then ask the "
                        "calculator which kernel turns 4 into 7 with stride 2 and padding 1."),
            lesson_text("Why does G for 28-pixel digits not simply double from 4 (4, 8, 16, 32)?"),
            lesson_text("Because 28 = 4 × 7: the sizes must pass through 7 and 14. (4 − 1)·2 − 2·1 + k = 7 needs "
                        "k = 3, so that layer uses a 3×3 kernel; every other layer keeps k = 4, s = 2, p = 1, which "
                        "doubles exactly."),
        ),
        Chapter(
            "training",
            lesson_text("Training and reading the curves"),
            (lesson_text("Training alternates: one D update on a real and a generated batch, then one G update "
                         "through D. A loss is not a score: each network is measured against an opponent that keeps "
                         "changing, so a falling G loss does not mean better samples."),
             lesson_text("Read D(x) and D(G(z)), D's mean output on real and generated samples. In a healthy game "
                         "they stay apart but close. If D(x) sticks at 1 and D(G(z)) at 0, D has won and G gets no "
                         "gradient; if they swing together, G is hopping between modes. Judge quality by samples and "
                         "metrics, never by the loss.")),
            r"\begin{aligned} L_D &= -\log D(x) - \log\big(1 - D(G(z))\big) \\ L_G &= -\log D(G(z))\end{aligned}",
            lesson_text("Press Train 250 steps a few times. Do D(x) and D(G(z)) settle, or swing together as G's "
                        "points hop from mode to mode?"),
            lesson_text("G's loss has risen for the last 500 steps. Is training failing?"),
            lesson_text("Not necessarily. G's loss is measured against a D that is improving too, so it can rise "
                        "while the samples get better. Look at D(x) against D(G(z)), at the samples and at a metric "
                        "(FID, modes covered) before deciding."),
        ),
        Chapter(
            "cgan",
            lesson_text("The conditional GAN"),
            (lesson_text("A conditional GAN (Mirza & Osindero 2014) gives both networks a label y. G draws G(z | y): "
                         "the noise chooses the style, the label chooses the digit. D judges pairs (x, y): a "
                         "well-drawn 3 labelled seven is a fake. Our CGAN joins a learned label embedding to z in G "
                         "and adds the label as an extra input plane in D."),),
            r"\begin{aligned}\min_G \max_D\; & \mathbb{E}_{x,y}\big[\log D(x \mid y)\big] \\"
            r" &+ \mathbb{E}_{z,y}\big[\log\big(1 - D(G(z \mid y) \mid y)\big)\big]\end{aligned}",
            lesson_text("Keep the seed and change the class: the slant and thickness stay, the digit changes. Keep "
                        "the class and change the seed: the other way round."),
            lesson_text("What would happen if D never saw the label?"),
            lesson_text("D would only judge whether the image looks like some digit, so G could ignore the label and "
                        "still win: asking for a 7 would give any digit. The label in D is what makes G obey it."),
        ),
        Chapter(
            "collapse",
            lesson_text("Mode collapse and its cures"),
            (lesson_text("Mode collapse is G finding a few outputs that fool D and drawing only those: the same "
                         "digit again and again, or a few of the modes of a 2-D mixture. D learns to reject them, G "
                         "jumps to other modes, and the game circles instead of settling."),
             lesson_text("A cure changes the game so that covering every mode pays. PacGAN lets D judge several "
                         "samples at once, so copies look fake; minibatch discrimination lets D compare the samples "
                         "of a batch; WGAN-GP and an R1 penalty smooth D; a learning rate that decays lets the points "
                         "settle. Reverse KL over the modes measures what is missing.")),
            r"D_{\mathrm{KL}}(p_G \,\|\, p_{\mathrm{data}}) = \sum_k p_G(k)\,\log\frac{p_G(k)}{p_{\mathrm{data}}(k)}",
            lesson_text("With no remedy, press Train 250 steps a few times and count the modes G covers. Then choose "
                        "PacGAN and do the same. Under Digits, slide through a real DCGAN's first steps: it hops from "
                        "digit to digit and ends on one crisp 8 for every z. The same recipe with minibatch std "
                        "starts just as collapsed, then spreads out: all ten digits by step 700."),
            lesson_text("Why does packing two samples together help D to see collapse?"),
            lesson_text("One sample on a real mode looks perfectly real. Two samples of a collapsed G are nearly the "
                        "same point, which real pairs almost never are, so D rejects the pair, and G only escapes by "
                        "spreading out."),
        ),
        Chapter(
            "latent",
            lesson_text("The latent space"),
            (lesson_text("G maps every point z of a 100-dimensional Gaussian to an image. Nearby points give similar "
                         "images, so a straight path in z is a smooth change in the picture, and some directions "
                         "carry a meaning: thickness, slant, width. They can be found without labels, for example as "
                         "the directions G's first layer stretches most (closed-form factorisation, SeFa)."),
             lesson_text("A step α along a unit direction n changes the image gradually. Between two seeds, "
                         "interpolation along the sphere (slerp) morphs one digit into another without leaving the "
                         "digits.")),
            r"z' = z + \alpha\, n, \qquad \lVert n \rVert = 1",
            lesson_text("Move the slider slowly and name what changes. Try another direction, then another seed: "
                        "does a direction mean the same for every digit?"),
            lesson_text("Why do images far out along a direction (large |α|) look worse?"),
            lesson_text("G was trained only on z drawn from N(0, I), which lies near a sphere of radius about 10 "
                        "(√100). Far from it D never gave G any feedback, so G's output there is unconstrained. "
                        "Truncation does the opposite: it pulls z toward the mean for cleaner, less varied digits."),
        ),
        Chapter(
            "stylegan",
            lesson_text("StyleGAN: mapping network, AdaIN, style mixing"),
            (lesson_text("StyleGAN does not feed z to the image layers. A mapping network (an MLP) turns z into w, "
                         "and each layer of the synthesis network gets its own style from w through AdaIN: the "
                         "layer's feature maps are normalised, then scaled and shifted by the style. Per-pixel noise "
                         "adds detail that needs no decision. The shipped model uses StyleGAN2's form: the style "
                         "scales the convolution's weights, which are then normalised again."),
             lesson_text("Since every layer takes its own style, two codes can be mixed: the coarse layers (4–8 px) "
                         "from A lay out the digit, the fine ones (32 px) from B draw the strokes.")),
            r"\mathrm{AdaIN}(x_i, y) = y_{s,i}\,\frac{x_i - \mu(x_i)}{\sigma(x_i)} + y_{b,i}",
            lesson_text("Take the coarse layers from A: each cell shows A's digit in B's strokes. Switch to the fine "
                        "layers: now the digit comes from B."),
            lesson_text("Which layers decide which digit you see?"),
            lesson_text("The coarse ones, at 4–8 px: they lay out the shape. The middle layers set thickness and "
                        "slant, the fine ones the edges of the strokes. That is why mixing in A's coarse layers shows "
                        "A's digit."),
        ),
        Chapter(
            "cyclegan",
            lesson_text("CycleGAN: the cycle loss"),
            (lesson_text("CycleGAN (Zhu et al. 2017) translates between two sets of images that are not paired: "
                         "typeset digits (A) and handwritten ones (B). G turns A into B, F turns B into A, and one "
                         "discriminator per domain judges the results. The adversarial loss alone would let G draw "
                         "any handwritten digit; the cycle loss asks F(G(a)) to give back a, so G must keep what makes "
                         "the input this digit."),
             lesson_text("Too strong a cycle loss keeps the pixels as well, and the style never changes. The shipped "
                         "model weights it at half the paper's and adds a semantic loss (CyCADA): a digit classifier "
                         "must read G(a) as the digit it reads in a. The digit stays and the strokes move; the "
                         "Translate page gives the measured figures.")),
            r"\begin{aligned}\mathcal{L}_{\mathrm{cyc}}(G, F) = {}& \mathbb{E}_a\big[\lVert F(G(a)) - a \rVert_1\big]"
            r" \\ &+ \mathbb{E}_b\big[\lVert G(F(b)) - b \rVert_1\big]\end{aligned}",
            lesson_text("Translate typeset digits into handwriting and press Another batch. Compare the first row "
                        "with the third: that is the round trip the cycle loss checks."),
            lesson_text("We only want typeset → handwriting. Why train F: B → A as well?"),
            lesson_text("Without pairs nothing tells G which handwritten digit belongs to a typeset one. F and the "
                        "cycle loss do: G's output must carry enough of the input for F to rebuild it. F needs its "
                        "own discriminator, or it could learn to undo anything G does."),
        ),
        Chapter(
            "measuring",
            lesson_text("Measuring a GAN"),
            (lesson_text("No loss tells how good a GAN is, so it is measured from its samples. The Inception Score "
                         "asks a classifier: each sample should be read with confidence, and all classes should "
                         "appear. FID fits a Gaussian to a classifier's features of real images and one to those of "
                         "generated images and measures the distance between them: lower is better. We use our MNIST "
                         "classifier's features, so our FIDs are for digits only."),
             lesson_text("The 100-sample diversity test is the quick look: 100 samples, each read by the classifier; "
                         "count the digits covered and find the most similar pairs.")),
            r"\begin{aligned}\mathrm{FID} = {}& \lVert \mu_r - \mu_g \rVert^2 \\"
            r" &+ \mathrm{Tr}\big(\Sigma_r + \Sigma_g - 2\,(\Sigma_r \Sigma_g)^{1/2}\big)\end{aligned}",
            lesson_text("Compare the shipped DCGAN with the collapsed one: digits covered, KL to uniform, the closest "
                        "pair, and the FID measured on 10,000 samples."),
            lesson_text("Could a generator that only copies training images get an excellent FID?"),
            lesson_text("Yes: its features match the real ones, so its FID is low, yet it has learnt nothing new. "
                        "FID does not see memorisation; the nearest training images (Latent explorer) and the "
                        "near-duplicate share in evaluate do."),
        ),
    ]
    assert tuple(c.slug for c in out) == SLUGS
    return out


def chapter_index(slug: str | None) -> int:
    """The position of a chapter's slug in the course; 0 (the first chapter) for an unknown or missing one."""
    return SLUGS.index(slug) if slug in SLUGS else 0
