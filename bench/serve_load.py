"""Load on ``textclf serve``, side by side with the offline Predictor on the same texts.

One run measures, on the same model and machine:

1. the offline ``Predictor`` (``batch_size`` 64) on ``--requests`` copies of one short text;
2. the server (``textclf serve`` in a subprocess) under ``--concurrency`` clients sending
   ``--requests`` requests of that one text: errors, throughput as a share of (1),
   p50/p99 latency, mean micro-batch size (from ``/metrics``), and the server's resident
   memory at start and end;
3. the server under one client (``--single`` requests): p50/p99 latency.

Targets (issue 13): concurrency 32 gives 0 errors and >= 70 % of the offline throughput
with stable memory; one client gets p50 <= 10 ms and p99 <= 30 ms.

The load generator is a minimal HTTP/1.1 keep-alive client on asyncio (``--client raw``,
the default): on a 2-core machine the client shares the CPUs with the server, and httpx
spends several times more CPU per request (``--client httpx`` to compare). Figures taken
on a busy machine are pessimistic: the table prints the load average before and after.

Without ``--model`` a model is trained first (once; reused from ``--workdir``): 1 epoch
of the bundled all-MiniLM-L6-v2 on BANKING77 from ../shared/data when present, else on
2,000 synthetic reports from ``textclf data synth``.

Usage:
    python bench/serve_load.py --model runs/banking77
    python bench/serve_load.py                     # trains one first
    python bench/serve_load.py --requests 2000 --single 300 --device cpu
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BANKING77 = ROOT.parent / "shared" / "data" / "banking77"
TEXT = "I still have not received my new card, I ordered it over a week ago."


# -- the model ------------------------------------------------------------------------


def textclf(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "textclf.cli", *args], check=True)


def ensure_model(workdir: Path) -> tuple[Path, str]:
    """A trained model folder: reused from ``workdir`` or trained now (see the docstring)."""
    if BANKING77.is_dir():
        folder, data = workdir / "banking77-1epoch", "BANKING77, 1 epoch"
        train = ["--train", str(BANKING77 / "train.csv"), "--test", str(BANKING77 / "test.csv")]
    else:
        folder, data = workdir / "synth-1epoch", "2,000 synthetic reports, 1 epoch"
        synth = workdir / "synth.csv"
        if not synth.is_file():
            textclf("data", "synth", "--output", str(synth), "--n", "2000")
        train = ["--train", str(synth)]
    if not (folder / "textclf.json").is_file():
        print(f"Training a model ({data}) into {folder} ...", flush=True)
        textclf(
            "train", *train, "--epochs", "1", "--max-length", "64", "--no-baselines",
            "--no-report", "--no-track", "--overwrite", "--output", str(folder),
        )  # fmt: skip
    return folder, data


# -- offline reference ----------------------------------------------------------------


def offline(model: Path, texts: list[str], device: str, singles: int) -> tuple[float, float]:
    """Texts/s of ``Predictor.predict_proba`` (batch 64) after a warm-up batch, and the
    median time of one text alone in ms (the model's share of the one-client latency)."""
    from textclf.inference.pipeline import Predictor

    predictor = Predictor.from_folder(model, device=device, batch_size=64)
    predictor.predict_proba(texts[:64])
    started = time.perf_counter()
    predictor.predict_proba(texts)
    rate = len(texts) / (time.perf_counter() - started)
    times = []
    for _ in range(singles):
        started = time.perf_counter()
        predictor.predict_proba(texts[:1])
        times.append((time.perf_counter() - started) * 1000)
    return rate, statistics.median(times)


# -- the server -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (Linux /proc)."""
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else float("nan")


def start_server(
    model: Path, port: int, device: str, extra: list[str], log: Path
) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "textclf.cli", "serve", "--model", str(model), "--port", str(port)]
    cmd += ["--device", device, *extra]
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the server was not ready after 300 s; see {log}")


# -- load generators ------------------------------------------------------------------


class RawClient:
    """One keep-alive HTTP/1.1 connection: POST a fixed body, read status and body."""

    def __init__(self, port: int, body: bytes) -> None:
        self.port = port
        self.request = (
            b"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
        await self.reader.readexactly(length)
        if re.search(rb"(?i)connection: close", head):
            await self.close()
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = self.reader = None


async def load(port: int, n: int, concurrency: int, client: str) -> dict[str, Any]:
    """Send ``n`` requests from ``concurrency`` clients; latencies in ms, errors, texts/s."""
    body = json.dumps({"text": TEXT}).encode()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    remaining = n

    async def worker(post) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            try:
                status = await post()
            except Exception as e:  # counted, never fatal: the table reports them
                status = type(e).__name__
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                errors[str(status)] = errors.get(str(status), 0) + 1

    started = time.perf_counter()
    if client == "httpx":
        import httpx

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as http:

            async def post() -> int:
                r = await http.post(
                    "/v1/predict", content=body, headers={"content-type": "application/json"}
                )
                return r.status_code

            await asyncio.gather(*(worker(post) for _ in range(concurrency)))
    else:
        clients = [RawClient(port, body) for _ in range(concurrency)]
        await asyncio.gather(*(worker(c.post) for c in clients))
        for c in clients:
            await c.close()
    seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "n": n,
        "rate": n / seconds,
        "errors": errors,
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
    }


def mean_batch(port: int) -> float:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    text = b"".join(chunks).decode()
    total = re.search(r"^textclf_batch_size_texts_sum (\S+)$", text, re.MULTILINE)
    count = re.search(r"^textclf_batch_size_texts_count (\S+)$", text, re.MULTILINE)
    if not (total and count) or float(count.group(1)) == 0:
        return float("nan")
    return float(total.group(1)) / float(count.group(1))


# -- the run --------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="Model folder (default: train one).")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "textclf-serve-load"
    )
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--single", type=int, default=1000, help="Requests at concurrency 1.")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw")
    parser.add_argument(
        "--threads",
        type=int,
        help="Engine threads, offline and in the server alike [default: each side's own "
        "default: every core offline; the server's --threads and --parallel-batches].",
    )
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        help="Extra 'textclf serve' option (repeatable).",
    )
    args = parser.parse_args()
    if args.model is not None and not (args.model / "textclf.json").is_file():
        parser.error(f"--model {args.model}: not a model folder of 'textclf train'.")
    for name in ("requests", "concurrency", "single"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1.")

    args.workdir.mkdir(parents=True, exist_ok=True)
    from textclf.serving.server import default_parallel_batches, default_threads

    if args.threads:
        # Before torch is imported here, and passed to the server: both sides run alike.
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
        args.server_arg += ["--threads", str(args.threads)]
        engines = f"engine threads {args.threads} on both sides"
    else:
        # Each side as a user runs it: offline on every core; the server with its defaults.
        threads = default_threads()
        engines = (
            f"offline engine threads: all cores; server: {default_parallel_batches(1, threads)} "
            f"batches at once x {threads} engine thread(s)"
        )
    if args.model is None:
        model, data = ensure_model(args.workdir)
    else:
        model, data = args.model, "given"
    info = json.loads((model / "textclf.json").read_text())
    load_before = os.getloadavg()

    texts = [TEXT] * args.requests
    offline_rate, offline_single = offline(model, texts, args.device, min(args.single, 200))

    port = free_port()
    log = args.workdir / "server.log"
    server = start_server(model, port, args.device, args.server_arg, log)
    try:
        rss_start = rss_mb(server.pid)
        asyncio.run(load(port, 200, args.concurrency, args.client))  # warm the connections
        busy = asyncio.run(load(port, args.requests, args.concurrency, args.client))
        batch = mean_batch(port)
        rss_end = rss_mb(server.pid)
        single = asyncio.run(load(port, args.single, 1, args.client))
    finally:
        server.terminate()
        code = server.wait(120)
    load_after = os.getloadavg()

    share = 100 * busy["rate"] / offline_rate
    errors = sum(busy["errors"].values()) + sum(single["errors"].values())
    print()
    print(
        f"Machine: {platform.node()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, device {args.device}, {engines}; load average "
        f"{load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after (1 min)."
    )
    print(
        f"Model: {model} ({info.get('task')}, {len(info.get('labels', []))} labels, "
        f"max_length {info.get('max_length')}, {info.get('backbone', {}).get('name', '?')}; {data})."
    )
    print(f"Text: {len(TEXT)} characters; client: {args.client}; server exit code {code}.")
    print()
    print("| measurement | value | target |")
    print("|---|---:|---|")
    print(
        f"| offline Predictor, batch 64, {args.requests:,} texts | {offline_rate:,.0f} texts/s | reference |"
    )
    print(
        f"| server, concurrency {args.concurrency}, {args.requests:,} requests | "
        f"{busy['rate']:,.0f} texts/s = {share:.0f}% of offline | >= 70% |"
    )
    print(f"| errors (both loads) | {errors} {busy['errors'] or ''}{single['errors'] or ''} | 0 |")
    print(
        f"| latency p50 / p99 at concurrency {args.concurrency} | {busy['p50']:.1f} / {busy['p99']:.1f} ms | reported |"
    )
    print(f"| mean micro-batch size | {batch:.1f} texts | |")
    print(
        f"| server resident memory, start -> end | {rss_start:,.0f} -> {rss_end:,.0f} MiB | stable |"
    )
    print(
        f"| latency p50 / p99 at concurrency 1, {args.single:,} requests | "
        f"{single['p50']:.1f} / {single['p99']:.1f} ms | <= 10 / <= 30 ms |"
    )
    print(
        f"| offline Predictor, one text alone, p50 | {offline_single:.1f} ms | the model's share |"
    )


if __name__ == "__main__":
    main()
