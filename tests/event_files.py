"""Reads what a run wrote to its events files, for tests."""

from tensorboard.backend.event_processing import event_accumulator


def read(run_dir):
  """An EventAccumulator over `run_dir` holding every step of every tag."""
  accumulator = event_accumulator.EventAccumulator(
      str(run_dir), size_guidance={event_accumulator.TENSORS: 0,
                                   event_accumulator.SCALARS: 0})
  accumulator.Reload()
  return accumulator


def steps(accumulator, tag):
  """The steps of `tag`'s tensor events, in the order they were read ([] if none)."""
  if tag not in accumulator.Tags()["tensors"]:
    return []
  return [event.step for event in accumulator.Tensors(tag)]


def steps_by_tag(run_dir):
  """{tag: sorted steps} of every tensor tag in `run_dir`."""
  accumulator = read(run_dir)
  return {tag: sorted(steps(accumulator, tag))
          for tag in accumulator.Tags()["tensors"]}
