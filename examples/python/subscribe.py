#!/usr/bin/env python3
"""Follow Earshot's stream of routed events and alerts from Python, and resume where it stopped.

A downstream example (a care desk, a CRM sync): subscribes to `earshot.v1.Stream/Subscribe`,
prints each delivery, and saves the cursor after each one in --cursor-file, so that the next
run goes on exactly after the last delivery it printed: nothing missed, nothing twice.

Needs Debian's python3-grpcio and python3-protobuf, and `protoc` with `grpc_python_plugin`
(protobuf-compiler, protobuf-compiler-grpc) to generate the stubs from proto/ on first use
(into --stubs-dir; `python3 -m grpc_tools.protoc` is used instead when there is no protoc).

    export EARSHOT_TOKEN=dev-earshot-token
    python3 examples/python/subscribe.py --from earliest --cursor-file /tmp/earshot.cursor
    python3 examples/python/subscribe.py --cursor-file /tmp/earshot.cursor   # resumes

Exit codes: 0 stopped (--count, --timeout, Ctrl-C, end of stream), 1 the server refused or
ended the stream (the gRPC status is printed), 2 usage.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROTO_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))


def generate_stubs(proto_dir, stubs_dir):
    """Generates earshot/v1/*_pb2.py and *_pb2_grpc.py into stubs_dir once per proto version."""
    protos = sorted(
        os.path.join("earshot", "v1", f)
        for f in os.listdir(os.path.join(proto_dir, "earshot", "v1"))
        if f.endswith(".proto"))
    digest = hashlib.sha256()
    for p in protos:
        with open(os.path.join(proto_dir, p), "rb") as f:
            digest.update(f.read())
    target = os.path.join(stubs_dir, digest.hexdigest()[:16])
    if os.path.exists(os.path.join(target, "earshot", "v1", "stream_pb2_grpc.py")):
        return target
    os.makedirs(stubs_dir, exist_ok=True)
    work = tempfile.mkdtemp(dir=stubs_dir)
    protoc = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin")
    if protoc and plugin:
        cmd = [protoc, "-I", proto_dir, "--python_out=" + work, "--grpc_out=" + work,
               "--plugin=protoc-gen-grpc=" + plugin] + protos
    else:
        cmd = [sys.executable, "-m", "grpc_tools.protoc", "-I", proto_dir,
               "--python_out=" + work, "--grpc_python_out=" + work] + protos
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        sys.exit("cannot generate the gRPC stubs (%s):\n%s" % (" ".join(cmd), result.stderr))
    try:
        os.rename(work, target)
    except OSError:  # another run generated them meanwhile
        shutil.rmtree(work, ignore_errors=True)
    return target


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--addr", default=os.environ.get("EARSHOT_ADDR", "127.0.0.1:9090"),
                   help="gRPC address of earshot (default: $EARSHOT_ADDR or 127.0.0.1:9090)")
    p.add_argument("--token", default=os.environ.get("EARSHOT_TOKEN", ""),
                   help="bearer token (default: $EARSHOT_TOKEN)")
    p.add_argument("--tls-ca", help="PEM file of the CA of the server's certificate (TLS)")
    p.add_argument("--topic", choices=["routed", "alerts", "both"], default="routed")
    p.add_argument("--queue", action="append", default=[], help="queue (repeatable)")
    p.add_argument("--platform", action="append", default=[],
                   help="x, facebook, instagram, messenger, whatsapp, telegram, generic")
    p.add_argument("--min-priority", choices=["low", "normal", "high", "urgent"])
    p.add_argument("--from", dest="start", default="latest", choices=["latest", "earliest"],
                   help="where to start without a saved cursor")
    p.add_argument("--cursor-file", help="resume from the cursor saved here, and save it again")
    p.add_argument("--count", type=int, default=0, help="stop after N deliveries (0: never)")
    p.add_argument("--timeout", type=float, default=0, help="stop after S seconds (0: never)")
    p.add_argument("--json", action="store_true", help="print protobuf JSON, one a line")
    p.add_argument("--proto-dir", default=DEFAULT_PROTO_DIR)
    p.add_argument("--stubs-dir", default=os.environ.get(
        "EARSHOT_PY_STUBS", os.path.join(os.path.expanduser("~"), ".cache", "earshot", "pystubs")),
        help="where the generated stubs are kept (default: $EARSHOT_PY_STUBS or "
             "~/.cache/earshot/pystubs)")
    return p.parse_args()


def main():
    args = parse_args()
    sys.path.insert(0, generate_stubs(args.proto_dir, args.stubs_dir))
    import grpc  # pylint: disable=import-outside-toplevel
    from google.protobuf import json_format  # pylint: disable=import-outside-toplevel
    from earshot.v1 import event_pb2, routing_pb2, stream_pb2, stream_pb2_grpc  # pylint: disable=import-outside-toplevel

    platforms = {"x": event_pb2.PLATFORM_X, "facebook": event_pb2.PLATFORM_FACEBOOK,
                 "instagram": event_pb2.PLATFORM_INSTAGRAM,
                 "messenger": event_pb2.PLATFORM_MESSENGER,
                 "whatsapp": event_pb2.PLATFORM_WHATSAPP, "telegram": event_pb2.PLATFORM_TELEGRAM,
                 "generic": event_pb2.PLATFORM_GENERIC}
    request = stream_pb2.SubscribeRequest(client_name="examples/python/subscribe.py")
    if args.topic in ("routed", "both"):
        request.topics.append(stream_pb2.STREAM_TOPIC_ROUTED)
    if args.topic in ("alerts", "both"):
        request.topics.append(stream_pb2.STREAM_TOPIC_ALERTS)
    request.filter.queues.extend(args.queue)
    for name in args.platform:
        if name not in platforms:
            print("unknown platform %r (known: %s)" % (name, ", ".join(platforms)),
                  file=sys.stderr)
            return 2
        request.filter.platforms.append(platforms[name])
    if args.min_priority:
        request.filter.min_priority = routing_pb2.Priority.Value(
            "PRIORITY_" + args.min_priority.upper())

    cursor = ""
    if args.cursor_file and os.path.exists(args.cursor_file):
        with open(args.cursor_file, encoding="ascii") as f:
            cursor = f.read().strip()
    if cursor:
        request.cursor = cursor
        print("resuming from the saved cursor", file=sys.stderr)
    elif args.start == "earliest":
        request.earliest = True
    else:
        request.latest = True

    def save(c):
        if not args.cursor_file or not c:
            return
        tmp = args.cursor_file + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write(c + "\n")
        os.replace(tmp, args.cursor_file)  # atomic: a crash leaves the old or the new cursor

    if args.tls_ca:
        with open(args.tls_ca, "rb") as f:
            channel = grpc.secure_channel(args.addr, grpc.ssl_channel_credentials(f.read()))
    else:
        channel = grpc.insecure_channel(args.addr)
    stub = stream_pb2_grpc.StreamStub(channel)
    metadata = [("authorization", "Bearer " + args.token)] if args.token else []
    call = stub.Subscribe(request, metadata=metadata, timeout=args.timeout or None)

    shown = 0
    try:
        for d in call:
            kind = d.WhichOneof("payload")
            if kind == "heartbeat":
                save(d.cursor)  # moves past records the filter skipped
                continue
            if args.json:
                print(json_format.MessageToJson(d, indent=None))
            elif kind == "routed":
                e, dec = d.routed.event, d.routed.decision
                who = ("@" + e.author.handle) if e.author.handle else (
                    e.author.display_name or e.author.id)
                print("routed  %-9s %-11s %-7s %s  %s: %s" % (
                    event_pb2.Platform.Name(e.platform)[len("PLATFORM_"):].lower(),
                    dec.queue, routing_pb2.Priority.Name(dec.priority)[len("PRIORITY_"):].lower(),
                    e.thread_key, who, e.text.replace("\n", " ")[:80]))
            elif kind == "alert":
                a = d.alert
                print("alert   %-21s %-8s %-11s %s  waited %ds" % (
                    a.name, "resolved" if a.state == 2 else "firing", a.queue, a.thread_key,
                    a.waited.seconds))
            sys.stdout.flush()
            save(d.cursor)
            shown += 1
            if args.count and shown >= args.count:
                call.cancel()
                break
    except grpc.RpcError as err:
        code = err.code()
        if code == grpc.StatusCode.CANCELLED and args.count and shown >= args.count:
            return 0
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return 0
        for key, value in (err.trailing_metadata() or ()):
            if key == "earshot-cursor":
                save(value)  # a slow subscriber is ended with the cursor to resume from
        print("stream ended: %s: %s" % (code.name, err.details()), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        call.cancel()
    return 0


if __name__ == "__main__":
    sys.exit(main())
