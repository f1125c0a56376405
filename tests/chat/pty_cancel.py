#!/usr/bin/env python3
"""`icotes chat` on a terminal (a pty): line editing on, a tool call shown as
one line, Ctrl-C during a slow turn (a `sleep 30` the model runs) cancels it
and gives the prompt back within seconds, the next prompt runs a turn of its own, Ctrl-C
twice at the prompt quits, naming the conversation to resume.

Environment: ICOTES_BINARY (ctest sets it). Exit status 0 when it passes;
on failure it prints what the terminal showed."""
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BINARY = os.environ.get("ICOTES_BINARY")
if not BINARY or not os.path.exists(BINARY):
    sys.exit("ICOTES_BINARY must name the icotes binary (ctest sets it)")

tmp = tempfile.mkdtemp(prefix="icotes-chat-pty-")
root = os.path.join(tmp, "ws")
runtime = os.path.join(tmp, "run")
config = os.path.join(tmp, "config")
state = os.path.join(tmp, "state")
for d in (root, runtime, os.path.join(config, "icotes"), state):
    os.makedirs(d, mode=0o700)
# Each run (each prompt) plays the script from its start.
script = [
    {"reasoning": "The user wants the slow thing.", "text": "Running it.",
     "tool_calls": [{"id": "c1", "name": "run_command", "arguments": {"command": "sleep 30"}}]},
    {"text": "Slept."},
]
with open(os.path.join(config, "icotes", "script.json"), "w") as f:
    json.dump(script, f)
with open(os.path.join(config, "icotes", "config.toml"), "w") as f:
    f.write('[providers.m]\nkind = "mock"\nscript = "script.json"\n')
env = dict(os.environ, XDG_RUNTIME_DIR=runtime, XDG_CONFIG_HOME=config, XDG_STATE_HOME=state, TERM="xterm")
env.pop("NO_COLOR", None)
env.pop("ICOTES_TEST_OPERATIONS", None)

pid, fd = pty.fork()
if pid == 0:
    os.execve(BINARY, [BINARY, "chat", "--root", root, "--provider", "m", "--allow", "Bash(sleep 30)"], env)

seen = b""
last_raw = b""  # what the last expect() matched in, colour codes kept


def expect(pattern, timeout, what):
    """Reads the terminal until `pattern` (a regex on the text without colour codes) shows."""
    global seen, last_raw
    deadline = time.monotonic() + timeout
    rx = re.compile(pattern)
    while True:
        text = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", seen).decode("utf-8", "replace")
        if rx.search(text):
            last_raw = seen
            seen = b""
            return text
        if "error: " in text:  # the chat said why it cannot go on: no use waiting
            fail(f"{what}: an error instead of {pattern!r}")
        left = deadline - time.monotonic()
        if left <= 0:
            fail(f"{what}: {pattern!r} did not show within {timeout} s")
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                text = seen.decode("utf-8", "replace")
                fail(f"{what}: the chat ended before {pattern!r} showed")
            seen += data


def fail(why):
    print("FAIL:", why)
    print("--- terminal (since the last match) ---")
    print(seen.decode("utf-8", "replace"))
    cleanup(1)


def cleanup(status):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    subprocess.run([BINARY, "daemon", "stop", "--root", root], env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=30)
    shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(status)


def send(data):
    os.write(fd, data)


expect(r"> ", 30, "the first prompt")
send(b"run the slow thing\r")
text = expect(r"\u25cf run_command", 30, "the tool call line")
# A reasoning model's thinking shows dimmed (SGR 2) on its own line, then the answer on the next.
if not re.search(r"The user wants the slow thing\.\r?\nRunning it\.", text):
    fail("the reasoning is not on a line of its own before the answer: " + repr(text))
if b"\x1b[2mThe user wants the slow thing." not in last_raw:
    fail("the reasoning is not dimmed: " + repr(last_raw))
time.sleep(1.0)  # the sleep is running
started = time.monotonic()
send(b"\x03")
expect(r"\(cancel", 10, "the turn cancelled")
expect(r"> ", 10, "the prompt back after Ctrl-C")
took = time.monotonic() - started
if took > 10:
    fail(f"Ctrl-C took {took:.1f} s to give the prompt back")
# The next prompt runs a turn of its own, cancelled the same way.
send(b"again\r")
expect(r"\u25cf run_command", 30, "the tool call of the next turn")
time.sleep(0.5)
send(b"\x03")
expect(r"\(cancel", 10, "the second turn cancelled")
expect(r"> ", 10, "the prompt")
# Ctrl-C at the prompt clears the line; a second one quits.
send(b"half typed")
time.sleep(0.2)
send(b"\x03")
expect(r"Ctrl-C again", 10, "the hint after one Ctrl-C")
time.sleep(0.2)
send(b"\x03")
expect(r"resume with: icotes chat --resume \S+", 10, "the resume line at exit")
_, status = os.waitpid(pid, 0)
if not os.WIFEXITED(status):
    fail(f"the chat did not exit normally: {status}")
print(f"ok: Ctrl-C gave the prompt back in {took:.2f} s")
cleanup(0)
