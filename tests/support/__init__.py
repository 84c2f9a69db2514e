"""What tests share: paths, factories, one wait, and the fixture plugins that tests/conftest.py loads."""
