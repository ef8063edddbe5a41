# Written by `make version` from the workspace Cargo.toml; a test checks they agree.
__version__ = "0.1.0"
