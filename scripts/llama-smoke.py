#!/usr/bin/env python3
"""Smoke-test the provisioned llama-server: each model alone, then router mode.

Usage (inside the chroot): llama-smoke.py MODELS_DIR NAME [NAME...]

Runs inside the chroot so the host needs nothing but chroot(8). For each model it starts
`llama-server -m MODEL`, waits for GET /health 200, sends one chat completion and checks its
OpenAI shape, then stops the server with SIGTERM. Then it starts router mode
(`--models-dir MODELS_DIR --models-max 1`) and chats with every model through it, which swaps
them. Exits non-zero with the server's log tail on the first failure.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SERVER = "/usr/bin/llama-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: dict | None = None, timeout: float = 30.0) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Server:
    def __init__(self, args: list[str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [SERVER, *args, "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT,
        )

    def wait_healthy(self, deadline_s: float = 60.0) -> None:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                self.fail(f"exited early with code {self.proc.returncode}")
            try:
                if http("GET", self.base + "/health", timeout=2)[0] == 200:
                    return
            except OSError:
                pass  # connection refused while starting
            time.sleep(0.05)
        self.fail("no /health 200 before the deadline")

    def chat(self, model: str | None) -> None:
        body: dict = {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 4}
        if model:
            body["model"] = model
        status, raw = http("POST", self.base + "/v1/chat/completions", body, timeout=60)
        if status != 200:
            self.fail(f"chat with {model or 'default model'} answered {status}: {raw[:300]!r}")
        reply = json.loads(raw)
        if not reply.get("choices") or "message" not in reply["choices"][0]:
            self.fail(f"chat reply has no choices[0].message: {raw[:300]!r}")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.fail("did not exit within 15 s of SIGTERM")

    def fail(self, reason: str) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.seek(0)
        tail = self.log.read().decode(errors="replace").splitlines()[-25:]
        sys.stderr.write(f"llama-smoke: {' '.join(self.proc.args)}: {reason}\n" + "\n".join(tail) + "\n")
        sys.exit(1)


def main() -> None:
    models_dir, names = sys.argv[1], sys.argv[2:]
    for name in names:
        t0 = time.monotonic()
        server = Server(["-m", os.path.join(models_dir, name + ".gguf")])
        server.wait_healthy()
        server.chat(None)
        server.stop()
        print(f"llama-smoke: {name}: health 200, chat ok, SIGTERM exit ({time.monotonic() - t0:.2f}s)")

    t0 = time.monotonic()
    router = Server(["--models-dir", models_dir, "--models-max", "1"])
    router.wait_healthy()
    for name in names:
        router.chat(name)
    router.stop()
    print(f"llama-smoke: router mode: chat with {', '.join(names)} ok ({time.monotonic() - t0:.2f}s)")


if __name__ == "__main__":
    main()
