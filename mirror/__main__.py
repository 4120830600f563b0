from mirror.cli import entrypoint

entrypoint()
