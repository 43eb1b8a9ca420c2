#!/usr/bin/env python3
"""The Python downstream example (examples/python/subscribe.py) against the real stack.

Starts `earshot --target=all` (the real binary: free loopback ports, a temporary data folder,
stream tokens), sends signed webhooks with `earshotctl replay`, runs the example until it has
printed them, then sends more and runs it again from its saved cursor: it must print exactly
the newer events. A wrong token must be refused. Run by ctest:

    python_example_test.py --earshot build/.../earshot --earshotctl build/.../earshotctl
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
EXAMPLE = os.path.join(REPO, "examples", "python", "subscribe.py")
TOKEN = "python-example-token"
META_SECRET = "py-test-meta-secret"
TG_SECRET = "py-test-telegram-secret"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fb_comment(n, text):
    return {"platform": "meta", "body": {"object": "page", "entry": [{
        "id": "105550000000001", "time": "{{num:now_unix}}",
        "changes": [{"field": "feed", "value": {
            "from": {"id": "60123456789%05d" % n, "name": "Customer %d" % n},
            "item": "comment", "verb": "add", "post_id": "105550000000001_901234567890123",
            "comment_id": "901234567890123_%d{{run}}" % n,
            "parent_id": "105550000000001_901234567890123",
            "message": text, "created_time": "{{num:now_unix}}"}}]}]}}


def telegram(n, text):
    return {"platform": "telegram", "body": {"update_id": 1000 + n, "message": {
        "message_id": n, "date": "{{num:now_unix}}",
        "from": {"id": 5000000000 + n, "is_bot": False, "first_name": "Tele%d" % n},
        "chat": {"id": 5000000000 + n, "type": "private", "first_name": "Tele%d" % n},
        "text": text}}}


class Stack:
    """One earshot process on free loopback ports, stopped with SIGTERM."""

    def __init__(self, binary, workdir, bootstrap=""):
        self.http = free_port()
        self.grpc = free_port()
        self.admin = free_port()
        principals = os.path.join(workdir, "principals.yaml")
        with open(principals, "w", encoding="utf-8") as f:
            f.write("principals:\n  - name: py\n    tokens: [{value: %s}]\n"
                    "    scopes: {stream:read: [\"*\"]}\n" % TOKEN)
        self.config = os.path.join(workdir, "earshot.yaml")
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(f"""
http: {{addr: "127.0.0.1:{self.http}"}}
grpc: {{addr: "127.0.0.1:{self.grpc}"}}
admin: {{addr: "127.0.0.1:{self.admin}"}}
meta: {{app_secret: {META_SECRET}}}
telegram: {{secret_token: {TG_SECRET}, bot_id: "7000000001"}}
auth: {{principals_file: "{principals}"}}
""")
        self.log = open(os.path.join(workdir, "earshot.log"), "w", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("EARSHOT_")}
        if bootstrap:
            env["EARSHOT_KAFKA_BOOTSTRAP"] = bootstrap
        self.proc = subprocess.Popen(
            [binary, "--target=all", "--config", self.config,
             "--data-dir", os.path.join(workdir, "data")],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("earshot exited with %d (see %s)" % (self.proc.returncode,
                                                                      self.log.name))
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % self.admin,
                                            timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("earshot did not get ready within 60 s")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = "killed"
        self.log.close()
        return code


def replay(earshotctl, stack, workdir, name, recordings):
    path = os.path.join(workdir, name)
    with open(path, "w", encoding="utf-8") as f:
        for r in recordings:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    result = subprocess.run(
        [earshotctl, "replay", path, "--gateway", "http://127.0.0.1:%d" % stack.http,
         "--config", stack.config, "--no-progress"],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2xx %d " % len(recordings) in result.stdout, result.stdout


def example(stack, workdir, *extra, token=TOKEN):
    env = dict(os.environ, EARSHOT_TOKEN=token)
    return subprocess.run(
        [sys.executable, EXAMPLE, "--addr", "127.0.0.1:%d" % stack.grpc,
         "--stubs-dir", os.path.join(workdir, "stubs"), "--timeout", "30", *extra],
        capture_output=True, text=True, timeout=90, env=env, check=False)


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--earshot", required=True)
    parser.add_argument("--earshotctl", required=True)
    parser.add_argument("--kafka-script", help="scripts/kafka.sh, for EARSHOT_TEST_KAFKA=real")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="earshot-python-")
    started = time.time()
    # EARSHOT_TEST_KAFKA=real: the same on a one-node Apache Kafka instead of the embedded broker.
    kafka_dir = os.path.join(workdir, "kafka")
    bootstrap = ""
    if os.environ.get("EARSHOT_TEST_KAFKA") == "real":
        bootstrap = subprocess.run(
            [args.kafka_script, "start", "--dir=" + kafka_dir, "--owner=%d" % os.getpid()],
            check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        print("real Kafka at " + bootstrap)
    try:
        stack = Stack(args.earshot, workdir, bootstrap)
    except Exception:
        if bootstrap:
            subprocess.run([args.kafka_script, "stop", "--dir=" + kafka_dir], check=False)
        raise
    ok = False
    try:
        cursor = os.path.join(workdir, "cursor")
        replay(args.earshotctl, stack, workdir, "first.jsonl", [
            fb_comment(1, "Gilt der Gutschein auch online?"),
            telegram(2, "Where is my parcel? Ordered two weeks ago."),
            fb_comment(3, "Danke für die schnelle Lieferung!"),
        ])
        first = example(stack, workdir, "--from", "earliest", "--count", "3",
                        "--cursor-file", cursor)
        check(first.returncode == 0, "first run failed:\n" + first.stdout + first.stderr)
        lines = first.stdout.splitlines()
        check(len(lines) == 3, "expected 3 events, got:\n" + first.stdout)
        check("Gilt der Gutschein auch online?" in first.stdout, first.stdout)
        check("Where is my parcel?" in first.stdout, first.stdout)
        check("Danke für die schnelle Lieferung!" in first.stdout, first.stdout)
        check(any(l.startswith("routed  telegram ") and "tg:7000000001:5000000002" in l
                  for l in lines), first.stdout)
        check(os.path.exists(cursor), "no cursor saved")

        replay(args.earshotctl, stack, workdir, "second.jsonl", [
            telegram(4, "Can I still change my delivery address?"),
            fb_comment(5, "Wann kommt die neue Kollektion?"),
        ])
        second = example(stack, workdir, "--count", "2", "--cursor-file", cursor)
        check(second.returncode == 0, "resumed run failed:\n" + second.stdout + second.stderr)
        check("resuming from the saved cursor" in second.stderr, second.stderr)
        lines = second.stdout.splitlines()
        check(len(lines) == 2, "expected the 2 new events, got:\n" + second.stdout)
        check("Can I still change my delivery address?" in second.stdout, second.stdout)
        check("Wann kommt die neue Kollektion?" in second.stdout, second.stdout)
        for old in ("Gutschein", "Where is my parcel", "schnelle Lieferung"):
            check(old not in second.stdout, "resumed run repeated %r:\n%s" % (old, second.stdout))

        # Nothing newer: a resumed run with a short timeout prints nothing and ends normally.
        quiet = example(stack, workdir, "--cursor-file", cursor, "--timeout", "2")
        check(quiet.returncode == 0 and quiet.stdout == "",
              "expected nothing new:\n" + quiet.stdout + quiet.stderr)

        refused = example(stack, workdir, "--from", "earliest", "--count", "1", token="wrong")
        check(refused.returncode == 1, "a wrong token must fail:\n" + refused.stderr)
        check("UNAUTHENTICATED" in refused.stderr, refused.stderr)
        ok = True
    finally:
        code = stack.stop()
        if bootstrap:
            subprocess.run([args.kafka_script, "stop", "--dir=" + kafka_dir], check=False)
        if ok and code != 0:
            print("earshot exited with %s on SIGTERM" % code, file=sys.stderr)
            ok = False
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print("kept %s (earshot.log)" % workdir, file=sys.stderr)
    print("python example: OK in %.1f s" % (time.time() - started))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
