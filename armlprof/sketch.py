"""Measurement sketches: render a jinja2 template from `sketches/` plus a runtime's generated `src/` into a sketch
folder (`<dir>/<dir>.ino` + `src/`), a plain Arduino sketch that builds with armlprof's core or with arduino-cli.

Templates: `ram_probe` (malloc(N) held while the model initializes and runs once), `init_time` (one timed
construction per boot), `inference_time` (N timed inferences). Names starting with `_` are partials.

The three kinds of one model x runtime x board share one sketch folder (`MeasurementSketch`): only the .ino is
re-rendered between kinds, so the model's sources keep the same paths and the build cache compiles them once.
Several processes may profile the same cell at once: each generates into its own staging folder, and the folder's
lock (`MeasurementSketch.locked()`) is held while src/ is updated and while a kind is switched in and built.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2

from armlprof.board import Board
from armlprof.build import BuildResult, build_sketch
from armlprof.cache import atomic_write, entry_lock
from armlprof.errors import ArmlprofError
from armlprof.runtime.base import GeneratedModel

SKETCH_TEMPLATES_DIR = Path(__file__).resolve().parent / "sketches"
SKETCH_KINDS = ("ram_probe", "init_time", "inference_time")
DEFAULT_INFERENCE_RUNS = 256  # the study's count; the host may ask for fewer (the emulator is deterministic)


def _environment() -> jinja2.Environment:
    if not SKETCH_TEMPLATES_DIR.is_dir():
        raise ArmlprofError(
            f"sketch templates not found in {SKETCH_TEMPLATES_DIR}; reinstall armlprof from its repository")
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(SKETCH_TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,  # a missing variable is a bug, not an empty string
        keep_trailing_newline=True,
    )


def template_names() -> list[str]:
    return sorted(p.name.removesuffix(".ino.j2") for p in SKETCH_TEMPLATES_DIR.glob("*.ino.j2")
                  if not p.name.startswith("_"))


def render_ino(kind: str, *, runtime: str, model: str, baud: int = 115200,
               default_runs: int = DEFAULT_INFERENCE_RUNS) -> str:
    """The .ino text of a measurement sketch kind."""
    if kind not in template_names():
        raise ArmlprofError(f"unknown sketch '{kind}'; known sketches: {', '.join(template_names())}")
    template = _environment().get_template(f"{kind}.ino.j2")
    return template.render(runtime=runtime, model=model, baud=baud, default_runs=default_runs)


def write_sketch(kind: str, sketch_dir: Path, *, src_dir: Path | None, runtime: str, model: str,
                 baud: int = 115200) -> Path:
    """Render `kind` into `sketch_dir/<name>.ino` and copy `src_dir` (a runtime's output) into `sketch_dir/src`.
    Returns the sketch folder."""
    sketch_dir = Path(sketch_dir)
    sketch_dir.mkdir(parents=True, exist_ok=True)
    if src_dir is not None and Path(src_dir).resolve() != (sketch_dir / "src").resolve():
        target = sketch_dir / "src"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(src_dir, target)
    if not (sketch_dir / "src" / "model.h").is_file():
        raise ArmlprofError(f"{sketch_dir}/src/model.h missing; generate the model with a runtime first")
    _write_if_changed(sketch_dir / f"{sketch_dir.name}.ino", render_ino(kind, runtime=runtime, model=model, baud=baud))
    return sketch_dir


def _write_if_changed(path: Path, text: str) -> None:
    # An unchanged file keeps its mtime, so nothing downstream sees a spurious change.
    if not path.is_file() or path.read_text() != text:
        atomic_write(path, text)


@dataclass
class MeasurementSketch:
    """One sketch folder for a model x runtime x board: the runtime's src/ generated once, the .ino switched
    between kinds by `use(kind)`."""

    sketch_dir: Path
    generated: GeneratedModel
    model_name: str
    board: Board

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold while switching the .ino and building: another process's use(kind) cannot swap it meanwhile."""
        with entry_lock(_lock_path(self.sketch_dir)):
            yield

    def use(self, kind: str) -> Path:
        _write_if_changed(
            self.sketch_dir / f"{self.sketch_dir.name}.ino",
            render_ino(kind, runtime=self.generated.runtime, model=self.model_name, baud=self.board.console_baud),
        )
        return self.sketch_dir

    def build(self, kind: str, *, optimization: str | None = None, extra_flags: Sequence[str] = ()) -> BuildResult:
        """Build one kind with the generated model's flags, include folders and libraries (the study, the Robot
        library and benchmarks all build through here)."""
        generated = self.generated
        with self.locked():  # another process profiling the same cell switches kinds in the same folder
            return build_sketch(
                self.use(kind), self.board, optimization=optimization,
                extra_flags=[*extra_flags, *generated.extra_build_flags],
                include_dirs=generated.include_dirs, extra_objects=generated.extra_objects,
            )

    def export(self, kind: str, dest: Path) -> Path:
        """A standalone copy of one kind (e.g. for arduino-cli, which wants folder name == .ino name)."""
        dest = Path(dest)
        if dest.exists():
            shutil.rmtree(dest)
        return write_sketch(kind, dest, src_dir=self.sketch_dir / "src", runtime=self.generated.runtime,
                            model=self.model_name, baud=self.board.console_baud)


def sketch_work_dir(root: Path, *parts: str) -> Path:
    """A stable folder name for a measurement cell under `root` (same cell, same folder: cache hits)."""
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
    return Path(root) / digest / "armlprof_sketch"


def prepare_measurement_sketch(model, runtime, board: Board, work_root: Path, **options) -> MeasurementSketch:
    """Generate `model` with `runtime` for `board` into a stable sketch folder under `work_root`."""
    sketch_dir = sketch_work_dir(work_root, model.sha256, runtime.name, board.name, str(board.memory_kib),
                                 repr(sorted(options.items())))
    src = sketch_dir / "src"
    # Regenerate into a fresh folder of this run's own, then swap under the folder's lock: a half-written src/ from
    # an interrupted run is never reused, and a concurrent run never sees this one's half-written files.
    sketch_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="src.new.", dir=sketch_dir.parent))
    try:
        generated = runtime.generate(model, staging, board, **options)
        with entry_lock(_lock_path(sketch_dir)):
            if src.exists():
                _sync_tree(staging, src)
            else:
                sketch_dir.mkdir(parents=True, exist_ok=True)
                staging.rename(src)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    generated.src_dir = src
    generated.extra_objects = [_moved(Path(o), staging, src) for o in generated.extra_objects]
    generated.include_dirs = [_moved(Path(d), staging, src) for d in generated.include_dirs]
    return MeasurementSketch(sketch_dir, generated, model.name, board)


def _lock_path(sketch_dir: Path) -> Path:
    return Path(sketch_dir).parent / "sketch"


def _moved(path: Path, old_root: Path, new_root: Path) -> Path:
    """`path` after the staging folder became src/ (paths outside it are unchanged)."""
    try:
        return new_root / path.resolve().relative_to(old_root.resolve())
    except ValueError:
        return path


def _sync_tree(new: Path, old: Path) -> None:
    """Make `old` equal to `new`, rewriting only files whose content changed (keeps the build cache's paths)."""
    new_files = {p.relative_to(new) for p in new.rglob("*") if p.is_file()}
    for p in old.rglob("*"):
        if p.is_file() and p.relative_to(old) not in new_files:
            p.unlink()
    for rel in new_files:
        target = old / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = (new / rel).read_bytes()
        if not target.is_file() or target.read_bytes() != data:
            atomic_write(target, data)
