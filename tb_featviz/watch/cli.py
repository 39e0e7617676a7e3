"""The `tb-featviz` command: feature visualizations of saved checkpoints.

  tb-featviz run MODEL.keras --config featviz.json --logdir logs [--step N]
  tb-featviz watch CHECKPOINT_DIR --config featviz.json --logdir logs [--once]

Training that has outgrown one machine need not spend its accelerators on
pictures: a separate process computes the same visualizations as
FeatureVizCallback from the checkpoints training saves anyway
(keras.callbacks.ModelCheckpoint), and writes the same summaries under the same
tags into the same run directory (`<logdir>/featviz` by default).

Exit codes: 0 done; 1 a checkpoint or visualization failed; 2 a mistake in the
arguments, the configuration or the model; 130 interrupted (Ctrl-C), 143
terminated (SIGTERM).
"""

import argparse
import contextlib
import os
import sys
import tempfile
import textwrap

from tb_featviz import failures
from tb_featviz import kinds
from tb_featviz.watch import checkpoints
from tb_featviz.watch import config_file

PROG = "tb-featviz"
EXIT_FAILED = 1
EXIT_USAGE = 2

STEP_HELP = """\
steps: the step of a checkpoint is, by default, the first integer after "epoch"
or "step" in its file name (else the first integer in the name) plus
--step-offset, which defaults to -1: ModelCheckpoint's {epoch} counts from 1,
while FeatureVizCallback and keras.callbacks.TensorBoard log the model after
epoch e (counted from 0) at step e. So with
ModelCheckpoint("ckpt/model-{epoch:02d}.keras"), model-01.keras is logged at
step 0, as the callback would log it, and the featviz panel, the Scalars tab
and callback steps of the same run line up. Without a number in the name (or
with --step-from iterations, or when the configuration sets every_n_steps) the
step is the optimizer's iteration count saved in the checkpoint: the number of
batches trained, the step the callback logs with every_n_steps."""


def _text(paragraph):
  return textwrap.fill(" ".join(paragraph.split()), 79)


class _Parser(argparse.ArgumentParser):
  """Reports a bad command line in one line (plus a pointer to --help)."""

  def error(self, message):
    self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} "
                          "--help)\n")


def _add_common(parser):
  parser.add_argument("--config", required=True, metavar="CONFIG",
                      help="JSON (or, with Python 3.11+, TOML) file of "
                      "FeatureVizCallback arguments: "
                      f"{', '.join(kinds.VISUALIZER_KEYS)}, run_name ("
                      f"{', '.join(k for k in kinds.SCHEDULE_KEYS if k != 'run_name')} "
                      "are accepted too). Images and labels are "
                      ".npy/.npz paths relative to it, e.g. \"probe.npy\" or "
                      "\"val.npz:x\".")
  parser.add_argument("--logdir", required=True, metavar="DIR",
                      help="the TensorBoard log directory; summaries go to "
                      "DIR/<run_name> (run_name from the config, default "
                      f"'{kinds.DEFAULT_RUN_NAME}', as the callback's).")
  parser.add_argument("--run-name", metavar="NAME",
                      help="write to DIR/NAME instead of the config's run_name.")
  parser.add_argument("--model", metavar="MODEL.keras",
                      help="the model (architecture) that .weights.h5 "
                      "checkpoints are loaded into; .keras checkpoints do not "
                      "need it.")
  parser.add_argument("--step-from", choices=checkpoints.SOURCES,
                      default=checkpoints.AUTO,
                      help="where a checkpoint's step comes from: its file name "
                      "(see --step-pattern, --step-offset), the optimizer "
                      "iterations saved in it, or auto (default: the name, else "
                      "the iterations; the iterations first when the config "
                      "sets every_n_steps).")
  parser.add_argument("--step-pattern", metavar="REGEX",
                      help="regular expression searched in the file name; its "
                      "first group is the number. Default: the first integer "
                      "after 'epoch' or 'step', else the first integer.")
  parser.add_argument("--step-offset", type=int,
                      default=checkpoints.DEFAULT_STEP_OFFSET, metavar="N",
                      help="added to the number in the file name (default -1: "
                      "Keras's {epoch} is 1-based, the callback's epoch step "
                      "0-based; use 0 if the number already is the step).")
  parser.add_argument("-v", "--verbose", action="store_true",
                      help="show TensorFlow's own log messages.")


def build_parser():
  parser = _Parser(
      prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
      description=_text("Feature visualizations (activation maximization, code "
      "inversion, multifaceted visualization) of saved Keras checkpoints, "
      "written as the same TensorBoard summaries as tb_featviz's "
      "FeatureVizCallback, by a process separate from training."),
      epilog=STEP_HELP)
  from tb_featviz import __version__  # pylint: disable=import-outside-toplevel
  parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
  commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                   parser_class=_Parser)
  commands.required = True

  run = commands.add_parser(
      "run", help="visualize one model file at one step.",
      description=_text("Visualizes one model file (.keras, or .weights.h5 with "
      "--model) and logs it at one step, as FeatureVizCallback would. Steps "
      "already logged in the run are not logged again."),
      formatter_class=argparse.RawDescriptionHelpFormatter, epilog=STEP_HELP)
  run.add_argument("checkpoint", metavar="MODEL.keras",
                   help="the model (or weights) file to visualize.")
  run.add_argument("--step", type=int, metavar="N",
                   help="the step to log at (default: from the file, see below).")
  _add_common(run)
  run.set_defaults(handler=_run)

  watch = commands.add_parser(
      "watch", help="visualize every checkpoint that appears in a folder.",
      description=_text("Visualizes every checkpoint in CHECKPOINT_DIR (.keras files, "
      "and .weights.h5 files with --model), in step order, as it appears: a "
      "file is read once its size and modification time are the same at two "
      "looks (and a .keras zip is complete). Runs until Ctrl-C or SIGTERM, or "
      "with --once until every checkpoint there is done. Restart-safe: what "
      "was logged (listed in <run>/.tb_featviz_watch.json and read back from "
      "the event files) is never logged twice, so a stopped watcher can "
      "simply be started again."),
      formatter_class=argparse.RawDescriptionHelpFormatter, epilog=STEP_HELP)
  watch.add_argument("directory", metavar="CHECKPOINT_DIR",
                     help="the folder ModelCheckpoint writes to.")
  watch.add_argument("--once", action="store_true",
                     help="visualize what is there, then exit.")
  watch.add_argument("--poll", type=float, default=5.0, metavar="SECONDS",
                     help="seconds between two looks at the folder (default 5).")
  _add_common(watch)
  watch.set_defaults(handler=_watch)
  return parser


@contextlib.contextmanager
def _stderr_captured(verbose):
  """Sends what is written to file descriptor 2 to a temporary file meanwhile.

  TensorFlow prints several lines of C++ log on import whatever
  TF_CPP_MIN_LOG_LEVEL says; they are shown only if the import fails (or with
  --verbose).
  """
  if verbose:
    yield
    return
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile() as captured:
    os.dup2(captured.fileno(), 2)
    try:
      yield
    except Exception:
      sys.stderr.flush()
      os.dup2(saved, 2)
      captured.seek(0)
      sys.stderr.write(captured.read().decode("utf-8", "replace"))
      raise
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)


def _import_tensorflow(verbose):
  """Imports TensorFlow and the modules that need it, quietly; returns watcher."""
  if not verbose:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  with _stderr_captured(verbose):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    from tb_featviz.watch import watcher  # pylint: disable=import-outside-toplevel
    tf.constant(0.0) + 0.0  # initializes the devices (more log lines)
  if not verbose:
    tf.get_logger().setLevel("ERROR")
  return watcher


def _prepare(args):
  """Loads the config (before TensorFlow, to fail fast) and the step rule."""
  config = config_file.load(args.config)
  rule = checkpoints.StepRule(source=args.step_from, pattern=args.step_pattern,
                              offset=args.step_offset,
                              batch_steps=config.batch_steps)
  if args.model is not None and not os.path.isfile(args.model):
    raise config_file.ConfigError(f"model file not found: {args.model}.")
  return config, rule


def _run(args):
  config, rule = _prepare(args)
  path = args.checkpoint
  if not os.path.isfile(path):
    raise config_file.ConfigError(f"model file not found: {path}.")
  if args.step is not None and args.step < 0:
    raise config_file.ConfigError(f"--step must be 0 or more, got {args.step}.")
  if checkpoints.kind_of(path) == checkpoints.WEIGHTS and args.model is None:
    raise config_file.ConfigError(f"{os.path.basename(path)} holds weights only; "
                                 "pass --model MODEL.keras for the architecture.")
  if args.step is not None:
    step, source = args.step, "--step"
  else:
    step, source = rule.step_of(path)
  watcher = _import_tensorflow(args.verbose)
  progress = watcher.Progress()
  guard = watcher.SignalGuard()
  guard.install()
  try:
    processor = watcher.CheckpointVisualizer(
        config, args.logdir, architecture=args.model, run_name=args.run_name,
        guard=guard)
    try:
      report = processor.process(path, step, source)
    finally:
      processor.close()
  finally:
    guard.uninstall()
  progress.line(report.describe())
  return EXIT_FAILED if report.failed else 0


def _watch(args):
  config, rule = _prepare(args)
  if args.poll <= 0:
    raise config_file.ConfigError(f"--poll must be positive, got {args.poll}.")
  if args.once and not os.path.isdir(args.directory):
    raise config_file.ConfigError(f"checkpoint folder not found: {args.directory}.")
  watcher = _import_tensorflow(args.verbose)
  guard = watcher.SignalGuard()
  guard.install()
  watch = processor = None
  try:
    processor = watcher.CheckpointVisualizer(
        config, args.logdir, architecture=args.model, run_name=args.run_name,
        guard=guard)
    watch = watcher.Watcher(args.directory, processor, rule, poll=args.poll,
                            once=args.once, progress=watcher.Progress())
    failed = watch.run()
  except KeyboardInterrupt as interrupt:
    if watch is not None:
      interrupt.done = watch.summary()
    raise
  finally:
    if processor is not None:
      processor.close()
    guard.uninstall()
  return EXIT_FAILED if failed else 0


def main(argv=None):
  """Runs the command line `argv` (default sys.argv[1:]); returns the exit code."""
  parser = build_parser()
  args = parser.parse_args(argv)
  try:
    return args.handler(args)
  except KeyboardInterrupt as interrupt:
    signum = getattr(interrupt, "signum", None)
    what = "terminated (SIGTERM)" if signum == 15 else "interrupted"
    done = getattr(interrupt, "done", None)
    sys.stderr.write(f"\n{PROG}: {what}" + (f" after {done}" if done else ".")
                     + " What was logged is kept; run the same command again "
                     "to resume.\n")
    return 128 + (signum or 2)
  except (config_file.ConfigError, checkpoints.CheckpointError, OSError) as error:
    # Mistakes in the arguments, the configuration, the model or the files
    # (UsageError is a ConfigError): one line, no traceback.
    sys.stderr.write(f"{PROG}: error: {failures.one_line(error, with_type=False)}\n")
    return EXIT_USAGE


if __name__ == "__main__":
  sys.exit(main())
