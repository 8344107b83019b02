from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from detection.detector.calibration import CalibrationError
from detection.detector.cli import train_arguments, train_run
from detection.detector.registry import ArchitectureError
from detection.detector.runtime import DetectorConfigError
from detection.detector.training import TrainingError


class Command(BaseCommand):
    help = (
        "Train the synthetic-image detector on folders of real and generated images; writes a weights file "
        "(and FILE.ckpt for --resume) and prints the DETECTOR_WEIGHTS / DETECTOR_WEIGHTS_SHA256 settings."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        train_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            train_run(options, self.stdout)
        except (TrainingError, ArchitectureError, DetectorConfigError, CalibrationError, OSError) as exc:
            raise CommandError(str(exc)) from exc
