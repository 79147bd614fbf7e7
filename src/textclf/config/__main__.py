"""``python -m textclf.config``: print ``configs/default.yaml`` (every setting, its default)."""

from textclf.config import default_config_yaml

print(default_config_yaml(), end="")  # noqa: T201
