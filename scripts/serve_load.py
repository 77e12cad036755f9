#!/usr/bin/python3
"""Load test for `xfmr serve`: C concurrent clients each send completions back to back for S seconds;
prints requests, generated tokens and tokens/s (from the responses' usage) as one JSON line.

usage: scripts/serve_load.py --port 8080 --clients 4 --seconds 5 --max-tokens 200 [--temperature 0]
"""
import argparse, json, threading, time, urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--max-tokens", type=int, default=200)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--prompt", default="Once upon a time")
    a = ap.parse_args()
    url = f"http://{a.host}:{a.port}/v1/completions"
    lock = threading.Lock()
    totals = {"requests": 0, "tokens": 0, "errors": 0}
    end = time.time() + a.seconds

    def client(i):
        seed = i * 100000
        while time.time() < end:
            seed += 1
            body = json.dumps({"prompt": a.prompt, "max_tokens": a.max_tokens,
                               "temperature": a.temperature, "seed": seed}).encode()
            req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    n = json.load(r)["usage"]["completion_tokens"]
                with lock:
                    totals["requests"] += 1
                    totals["tokens"] += n
            except Exception:
                with lock:
                    totals["errors"] += 1

    t0 = time.time()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - t0
    print(json.dumps({"clients": a.clients, "seconds": round(wall, 2), **totals,
                      "tokens_per_s": round(totals["tokens"] / wall, 1)}))


if __name__ == "__main__":
    main()
