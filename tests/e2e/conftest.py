"""Fixtures of the end-to-end tests: one Chromium for the whole session."""

import os

import pytest
from playwright import sync_api

from tests.e2e import browser as browser_lib


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
