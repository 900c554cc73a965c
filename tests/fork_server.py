"""The process behind the suite's ``riskline`` helper (``tests.cli_helpers``): it imports what commands import,
once, then forks one child per command, and each child runs the command as the ``riskline`` console script
would (``detection.cli.main``): a process of its own, with the command's arguments, environment, working
folder, standard streams and limits, ending as that command ends (its exit status, or the signal that ended
it). Only the imports are done before. A small ``score`` costs 0.5 s of CPU here instead of 1.4 (more is
saved where a command imports scikit-learn or MLflow): the suite's 200 commands took two minutes of its ten.
What is imported is frozen out of the garbage collector's reach (``gc.freeze``): a child's collections would
otherwise write to every page it shares with the server, and copying them cost more than the imports.

Protocol, on standard input and output: one JSON line a command in (with the files its output goes to); the
child's pid, then its exit status (negative: the signal that ended it), one line each, out. End of input ends
the server.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import resource
import selectors
import sys
from typing import Any

# What commands import (scoring, reading, training, tracking): anything else is imported by the command.
PRELOAD = ("numpy", "pandas", "scipy.sparse", "pyarrow.parquet", "pyarrow.csv", "sklearn.linear_model", "typer",
           "rich.console", "pydantic", "detection.cli", "detection.cli_batch", "detection.cli_realtime",
           "detection.model_files", "detection.readers", "detection.writers", "training.cli", "training.cli_data",
           "training.cli_evaluate", "training.train", "training.evaluate", "training.exports", "training.pan",
           "training.registry", "mlflow")


def serve() -> None:
    sys.path[0] = os.path.dirname(sys.executable)  # as the console script's: not this folder, nor the working one
    for name in PRELOAD:
        importlib.import_module(name)
    gc.freeze()
    held = b""
    while True:
        while b"\n" not in held:
            chunk = os.read(0, 1 << 16)
            if not chunk:
                return
            held += chunk
        line, held = held.split(b"\n", 1)
        _run(json.loads(line))


def _run(request: dict[str, Any]) -> None:
    """One command, its standard streams pipes (as ``subprocess.run(capture_output=True, input=...)`` makes
    them: a file-size limit is no limit on them), relayed from here to the files the request names."""
    command_in, to_command = os.pipe()
    from_out, command_out = os.pipe()
    from_err, command_err = os.pipe()
    pid = os.fork()
    if pid == 0:
        for fd, end in ((0, command_in), (1, command_out), (2, command_err)):
            os.dup2(end, fd)  # in place of this server's own pipes
        for end in (command_in, to_command, from_out, command_out, from_err, command_err):
            os.close(end)
        _command(request)  # does not return: the command's SystemExit ends this process as its own would
    for end in (command_in, command_out, command_err):
        os.close(end)
    os.write(1, f"{pid}\n".encode())
    unsent = request["input"].encode()
    os.set_blocking(to_command, False)
    with open(request["stdout"], "wb") as out, open(request["stderr"], "wb") as err, \
            selectors.DefaultSelector() as ends:
        for end, file in ((from_out, out), (from_err, err)):
            ends.register(end, selectors.EVENT_READ, file)
        if unsent:
            ends.register(to_command, selectors.EVENT_WRITE)
        else:
            os.close(to_command)
        while ends.get_map():
            for key, _ in ends.select():
                if key.fd == to_command:
                    try:
                        unsent = unsent[os.write(to_command, unsent[:1 << 16]):]
                    except BrokenPipeError:  # the command closed its input
                        unsent = b""
                    if not unsent:
                        ends.unregister(to_command)
                        os.close(to_command)
                elif chunk := os.read(key.fd, 1 << 16):
                    key.data.write(chunk)
                else:
                    ends.unregister(key.fd)
                    os.close(key.fd)
    _, status = os.waitpid(pid, 0)
    os.write(1, f"{os.waitstatus_to_exitcode(status)}\n".encode())


def _command(request: dict[str, Any]) -> None:
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    if request["max_file_bytes"] is not None:
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.setrlimit(resource.RLIMIT_FSIZE, (request["max_file_bytes"], limit))  # past it, a write fails
        # with EFBIG rather than ending the command: Python ignores SIGXFSZ from its start
    sys.argv = request["argv"]
    from detection.cli import main

    main()  # returns where the command succeeded; raises SystemExit with its status where not
    sys.exit(0)


if __name__ == "__main__":
    serve()
