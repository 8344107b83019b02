from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from detection.detector.calibration import CalibrationError
from detection.detector.cli import EvalError, eval_arguments, eval_run
from detection.detector.registry import ArchitectureError
from detection.detector.runtime import DetectorConfigError
from detection.detector.training import TrainingError
from detection.detector.weights import WeightsError


class Command(BaseCommand):
    help = (
        "Evaluate a detector weights file on folders of real and generated images: AUC, accuracy and the "
        "false-positive rate at the operating threshold, with bootstrap confidence intervals."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        eval_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            eval_run(options, self.stdout)
        except (
            EvalError, WeightsError, TrainingError, ArchitectureError, DetectorConfigError, CalibrationError, OSError
        ) as exc:
            raise CommandError(str(exc)) from exc
