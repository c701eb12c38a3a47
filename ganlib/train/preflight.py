"""Checks before training: everything wrong with a config and the data it names, each one sentence.

ONE preflight for the Start button (jobs.preflight, jobs.launch_problems) and the loop: the data is
loaded here exactly as training loads it (CycleGAN: the training fonts, and domain B), so a config the
page accepts is a config training accepts.
"""
from __future__ import annotations

from ..config import TrainConfig
from ..families import family
from ..data import DataError, GanData, load_dataset


class TrainingError(RuntimeError):
    """A run that cannot start or continue; the message is one sentence for the user."""


def preflight(config: TrainConfig, data: GanData | None = None) -> list[str]:
    """Everything wrong with a config (and its data, when given), each one sentence."""
    problems = config.validate()
    if data is None:
        return problems
    if family(config.model).conditional and (data.y is None or data.num_classes < 2):
        problems.append(f"CGAN needs a labelled data set; {data.name} has no class labels here.")
    if family(config.model).images_only and not data.is_image:
        problems.append(f"{config.model.upper()} needs images; {data.name} holds 2-D points (use gan).")
    if len(data) < config.batch_size:
        problems.append(f"The batch size ({config.batch_size}) is larger than the data set ({len(data)} "
                        "examples); lower the batch size or use more data.")
    return problems


def _domain_b_problems(config: TrainConfig, data_a: GanData, data_b: GanData) -> list[str]:
    if data_b.shape != data_a.shape:
        return [f"The two domains' images differ ({data_a.name}: {list(data_a.shape)}, {data_b.name}: "
                f"{list(data_b.shape)}); give --channels 1 or 3 so both have the same."]
    if len(data_b) < config.batch_size:
        return [f"The batch size ({config.batch_size}) is larger than domain B ({len(data_b)} "
                "examples); lower the batch size or use more data."]
    return []


def split_problems(config: TrainConfig, nproc: int, unit: str = "processes") -> list[str]:
    """The global batch must split evenly over `nproc` processes (in packs): [] or one sentence.
    `unit` "GPUs" words it for the Train page's GPUs field, "processes" for torchrun."""
    if nproc <= 1 or config.batch_size % (nproc * config.pack) == 0:
        return []
    if unit == "GPUs":
        return [f"With {nproc} GPUs the batch size ({config.batch_size}) must be a multiple of "
                f"{nproc * config.pack}: it is the global batch, split evenly over the GPUs."]
    return [f"The batch size ({config.batch_size}) is the global batch and must split evenly over "
            f"{nproc} processes" + (f" in packs of {config.pack}" if config.pack > 1 else "")
            + f"; choose a multiple of {nproc * config.pack}."]


def _load_a(config: TrainConfig) -> GanData:
    return load_dataset(config.dataset, data_dir=config.data_dir, download=config.download,
                        image_size=config.image_size, channels=config.channels, subset=config.subset,
                        seed=config.seed,  # CycleGAN keeps some fonts unseen to measure label preservation on
                        fonts="train" if family(config.model).two_domains else "all")


def _load_b(config: TrainConfig) -> GanData:
    return load_dataset(config.dataset_b, data_dir=config.data_dir_b, download=config.download,
                        image_size=config.image_size, channels=config.channels, subset=config.subset,
                        seed=config.seed + 1)


def load_training_data(config: TrainConfig) -> GanData:
    """The data set a config asks for, checked against the model (TrainingError: the first problem)."""
    data = _load_a(config)
    problems = preflight(config, data)
    if problems:
        raise TrainingError(problems[0])
    return data


def load_domain_b(config: TrainConfig, data_a: GanData) -> GanData:
    """CycleGAN's domain B (config.dataset_b), checked against domain A (TrainingError: the first problem)."""
    data = _load_b(config)
    problems = _domain_b_problems(config, data_a, data)
    if problems:
        raise TrainingError(problems[0])
    return data


def preflight_with_data(config: TrainConfig) -> list[str]:
    """preflight() after loading every data set exactly as training does (seconds for MNIST): what the
    Start button checks before it launches. validate()'s problems alone when the config itself is wrong."""
    problems = config.validate()
    if problems:
        return problems
    name = config.dataset
    try:
        data = _load_a(config)
        problems = preflight(config, data)
        if problems or not family(config.model).two_domains:
            return problems
        name = config.dataset_b
        return _domain_b_problems(config, data, _load_b(config))
    except DataError as e:
        return [str(e)]
    except Exception as e:  # noqa: BLE001 - a broken file should read as one sentence, not a traceback
        return [f"The {name} data set could not be loaded ({type(e).__name__}: {e})."]
