"""Quality metrics: an MNIST feature classifier, FID/KID/precision-recall on its features, class
coverage and diversity for digits, and mode counts for 2-D mixtures. Importing does no work."""
from ganlib.metrics.classifier import (
    MnistClassifier,
    default_classifier_path,
    evaluate_classifier,
    load_classifier,
    train_classifier,
)
from ganlib.metrics.image import evaluate_images, real_floor, real_reference
from ganlib.metrics.toy import evaluate_points

__all__ = ["MnistClassifier", "default_classifier_path", "evaluate_classifier", "evaluate_images",
           "evaluate_points", "load_classifier", "real_floor", "real_reference", "train_classifier"]
