"""Fixtures of the end-to-end tests: one Chromium for the whole session, and a
TensorBoard and the featviz panel over each test module's `logdir` fixture."""

import os

import pytest
from playwright import sync_api

from tests.e2e import browser as browser_lib
from tests.e2e import tensorboard_server


@pytest.fixture(scope="session")
def browser():
  """Debian's Chromium, driven by Playwright (its own download cannot work here).

  A machine without /usr/bin/chromium fails the browser tests: the README's
  test command installs it.
  """
  assert os.access(browser_lib.CHROMIUM, os.X_OK), (
      f"{browser_lib.CHROMIUM} is missing: the browser tests need Debian's "
      "chromium (`make test` installs it with apt-get)")
  with sync_api.sync_playwright() as playwright:
    chromium = playwright.chromium.launch(executable_path=browser_lib.CHROMIUM,
                                          args=browser_lib.CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def server(logdir):
  """A real TensorBoard over the module's `logdir`; yields its base URL."""
  with tensorboard_server.running(logdir) as base:
    yield base


@pytest.fixture
def panel(browser, server):
  """(page, the panel's frame) of the Feature Viz tab; console errors fail."""
  page, frame, console = browser_lib.open_panel(browser, server)
  yield page, frame
  page.close()
  assert not console.errors, console.errors
