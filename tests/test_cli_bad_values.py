"""Every CLI subcommand over a table of bad values: one sentence on stderr, a non-zero exit, no traceback,
and nothing written."""
import subprocess
import sys
from pathlib import Path

import pytest

from ganlib.cli import main

ROOT = Path(__file__).resolve().parents[1]
CK = ROOT / "checkpoints"
DCGAN, CGAN = str(CK / "dcgan_mnist.pt"), str(CK / "cgan_mnist.pt")
STYLE, CYCLE = str(CK / "stylegan_mnist.pt"), str(CK / "cyclegan_typeset_mnist.pt")
HUGE = "99999999999999999999"

# (subcommand and its good arguments, the bad flag and value); OUT is replaced by a path in tmp_path
CASES = [
    (["sample", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--n", "0"]),
    (["sample", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--n", "-5"]),
    (["sample", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--n", "10000000"]),
    (["sample", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--n", "abc"]),
    (["sample", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--seed", HUGE]),
    (["sample", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--seed", "-1"]),
    (["sample", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--truncation", "nan"]),
    (["sample", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--truncation", "inf"]),
    (["sample", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--truncation", "0"]),
    (["sample", "--checkpoint", CGAN, "--out", "OUT.png"], ["--class", "12"]),
    (["sample", "--checkpoint", DCGAN], ["--out", "OUT.txt"]),
    (["evaluate", "--checkpoint", DCGAN], ["--n", "0"]),
    (["evaluate", "--checkpoint", DCGAN], ["--n", "-3"]),
    (["evaluate", "--checkpoint", DCGAN], ["--seed", HUGE]),
    (["diversity", "--checkpoint", DCGAN], ["--n", "0"]),
    (["latent", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--range", "nan:inf:5"]),
    (["latent", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--range", "-3:3:0"]),
    (["latent", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--range", "-3:3:100000"]),
    (["latent", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--k", "-5"]),
    (["latent", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--truncation", "nan"]),
    (["latent", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--seed", HUGE]),
    (["interpolate", "--checkpoint", DCGAN, "--out", "OUT.gif"], ["--frames", "10000000"]),
    (["interpolate", "--checkpoint", DCGAN, "--out", "OUT.gif"], ["--frames", "0"]),
    (["interpolate", "--checkpoint", DCGAN, "--out", "OUT.gif"], ["--seeds", f"{HUGE},1"]),
    (["interpolate", "--checkpoint", DCGAN, "--out", "OUT.gif"], ["--seeds", "a,b"]),
    (["interpolate", "--checkpoint", DCGAN], ["--out", "OUT.txt"]),
    (["invert", "--checkpoint", DCGAN, "--image", "DIGIT", "--out", "OUT.png"], ["--restarts", "0"]),
    (["invert", "--checkpoint", DCGAN, "--image", "DIGIT", "--out", "OUT.png"], ["--steps", "-5"]),
    (["invert", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--image", "FOLDER"]),
    (["invert", "--checkpoint", DCGAN, "--image", "DIGIT", "--out", "OUT.png"], ["--seed", HUGE]),
    (["translate", "--checkpoint", CYCLE, "--input", "DIGIT"], ["--out", "OUT.txt"]),
    (["style-check", "--checkpoint", STYLE], ["--n", "0"]),
    (["style-mix", "--checkpoint", STYLE, "--out", "OUT.png"], ["--a", "nan"]),
    (["style-mix", "--checkpoint", STYLE, "--out", "OUT.png"], ["--a", HUGE]),
    (["style-mix", "--checkpoint", STYLE, "--out", "OUT.png"], ["--layers", "99-2"]),
    # beyond the cases
    (["sample", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--truncation", "1.5"]),
    (["sample", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--n", "1e300"]),
    (["sample", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--n", "2.5"]),
    (["sample", "--checkpoint", DCGAN, "--out", "OUT.npy"], ["--n", "1000000000000000"]),
    (["sample", "--checkpoint", DCGAN], ["--out", "OUT"]),
    (["sample", "--checkpoint", CGAN, "--out", "OUT.png"], ["--class", "-1"]),
    (["evaluate", "--checkpoint", DCGAN], ["--n", "nan"]),
    (["latent", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--k", "500"]),
    (["latent", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--range", "1:2"]),
    (["latent", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--range", "-inf:3:5"]),
    (["latent", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--range=-inf:3:5"]),
    (["latent", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--truncation", "-1"]),
    (["latent", "--checkpoint", DCGAN], ["--out", "OUT.gif"]),
    (["interpolate", "--checkpoint", DCGAN, "--out", "OUT.gif"], ["--frames", "1"]),
    (["interpolate", "--checkpoint", DCGAN, "--out", "OUT.gif"], ["--seeds", "1,2,3"]),
    (["interpolate", "--checkpoint", DCGAN, "--out", "OUT.gif"], ["--seeds", "-1,2"]),
    (["invert", "--checkpoint", DCGAN, "--out", "OUT.png"], ["--image", "NOWHERE.png"]),
    (["invert", "--checkpoint", DCGAN, "--image", "DIGIT", "--out", "OUT.png"], ["--restarts", "1e9"]),
    (["invert", "--checkpoint", DCGAN, "--image", "DIGIT"], ["--out", "OUT.txt"]),
    (["translate", "--checkpoint", CYCLE, "--input", "DIGIT"], ["--out", "OUT"]),
    (["style-check", "--checkpoint", STYLE], ["--seed", "-3"]),
    (["style-mix", "--checkpoint", STYLE, "--out", "OUT.png"], ["--b", ","]),
    (["style-mix", "--checkpoint", STYLE, "--out", "OUT.png"], ["--layers", "4-64"]),
    (["style-mix", "--checkpoint", STYLE, "--out", "OUT.png"], ["--a", ",".join(["1"] * 17)]),
    (["diversity", "--checkpoint", DCGAN], ["--seed", HUGE]),
    (["train-classifier", "--out", "OUT.pt"], ["--seed", "nan"]),
    (["train", "--model", "dcgan", "--out", "OUT"], ["--epochs", "-1"]),
    (["train", "--model", "dcgan", "--out", "OUT"], ["--batch-size", "0"]),
    (["train", "--model", "dcgan", "--out", "OUT"], ["--lr", "nan"]),
    (["train", "--model", "dcgan", "--out", "OUT"], ["--lr-g", "inf"]),
    (["train", "--model", "dcgan", "--out", "OUT"], ["--max-steps", "-5"]),
    (["train", "--model", "dcgan", "--out", "OUT"], ["--seed", HUGE]),
    (["train-classifier", "--out", "OUT.pt"], ["--epochs", "0"]),
    (["info"], ["--checkpoint", "NOWHERE.pt"]),
    (["export", "--out", "OUT.pt"], ["--checkpoint", "NOWHERE.pt"]),
]


def fill(args, tmp_path):
    """The table's placeholders made real: OUT (a path to write), NOWHERE (a missing file), DIGIT (an image
    of a digit), FOLDER (a folder where a file belongs)."""
    from PIL import Image

    digit, folder = tmp_path / "digit.png", tmp_path / "a_folder"
    Image.new("L", (28, 28), 0).save(digit)
    folder.mkdir(exist_ok=True)
    places = {"DIGIT": str(digit), "FOLDER": str(folder)}
    return [places.get(a) or a.replace("OUT", str(tmp_path / "out")).replace("NOWHERE", str(tmp_path / "nowhere"))
            for a in args]


@pytest.mark.parametrize("good, bad", CASES, ids=[" ".join([g[0], *b]) for g, b in CASES])
def test_bad_values_get_one_sentence(good, bad, tmp_path, capsys):
    argv = fill(good + bad, tmp_path)
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own refusals
        code = e.code
    err = capsys.readouterr().err.strip()
    assert code not in (0, None), f"{argv} was accepted"
    assert "Traceback" not in err
    last = err.splitlines()[-1]
    assert last.startswith("error: ") and last.endswith("."), err
    assert last.count(". ") == 0 or len(last) < 300, err  # one sentence, not a dump
    assert not any(p.name.startswith("out") for p in tmp_path.iterdir()), "a refused command wrote a file"


def test_the_real_command_line_says_one_sentence(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ganlib", "sample", "--checkpoint", DCGAN, "--n", "0",
                           "--out", str(tmp_path / "x.png")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")
