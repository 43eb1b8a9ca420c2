#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets that read binary or framed input (protobuf records,
signature headers, HTTP requests, cursors). The normalisers and YAML parsers start from
tests/fixtures and config/ instead. Run from the repository root after a proto or framing change:
    python3 tests/fuzz/seeds/make_seeds.py
FuzzedDataProvider's ConsumeRandomLengthString ends a string at a backslash followed by any
other character, and reads a doubled backslash as one: frame() writes that form."""
import base64
import hashlib
import hmac
import os
import subprocess

ROOT = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(ROOT, "..", "..", ".."))


def encode(message, text):
    return subprocess.run(
        ["protoc", "-I", os.path.join(REPO, "proto"), "-I", "/usr/include",
         "--encode=earshot.v1." + message,
         "earshot/v1/event.proto", "earshot/v1/routing.proto", "earshot/v1/stream.proto"],
        input=text.encode(), stdout=subprocess.PIPE, check=True, cwd=REPO).stdout


def frame(*parts):
    return b"\\\n".join(p.replace(b"\\", b"\\\\") for p in parts)


def write(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    with open(os.path.join(ROOT, target, name), "wb") as f:
        f.write(data)


def event(i, direction="DIRECTION_INBOUND", kind="KIND_COMMENT", extra=""):
    return encode("Event", f"""
event_id: "fb:e{i}" platform: PLATFORM_FACEBOOK account_id: "1" thread_key: "fb:1:c:{i % 2}"
message_id: "m{i}" direction: {direction} kind: {kind} text: "where is my refund?"
author {{ id: "{'cust' if direction == 'DIRECTION_INBOUND' else '1'}" follower_count: 120 }}
created_at {{ seconds: {1767225600 + 60 * i} }} received_at {{ seconds: {1767225601 + 60 * i} }}
{extra}""")


def routed(i, direction="DIRECTION_INBOUND", kind="KIND_COMMENT"):
    e = event(i, direction, kind)
    decision = encode("RoutingDecision", 'queue: "care" priority: PRIORITY_HIGH sla_policy: "default"')
    # RoutedEvent: event = 1, decision = 3 (length-delimited fields).
    return bytes([0x0A, len(e)]) + e + bytes([0x1A, len(decision)]) + decision


def main():
    # router_events: a customer's comment, the brand's answer, a redelivery, a resolve and an erase.
    write("router_events", "conversation", frame(
        event(0), event(2, "DIRECTION_OUTBOUND"), event(0), event(4),
        event(6, kind="KIND_CONTROL", extra="control { action: ACTION_RESOLVE }"),
        event(8, kind="KIND_CONTROL", extra="control { action: ACTION_ERASE }")))
    write("router_events", "one", event(1))
    # sla_routed: waits opened, answered, reopened.
    write("sla_routed", "conversation", frame(
        routed(0), routed(1), routed(2, "DIRECTION_OUTBOUND"), routed(4), routed(5, kind="KIND_DIRECT_MESSAGE")))
    # stream_filter: a request with a filter, then a routed event as the record's payload.
    req = encode("SubscribeRequest", 'topics: STREAM_TOPIC_ROUTED filter { queues: "care" '
                 'platforms: PLATFORM_FACEBOOK min_priority: PRIORITY_NORMAL accounts: "1" } earliest: true')
    write("stream_filter", "routed", frame(req, routed(0)) + b"\x01\x00\x00\x00\x05\x00\x00\x00\x01")
    write("stream_filter", "any", frame(b"", routed(3)))
    # stream_cursor: cursors as the service writes them (web-safe base64 without padding).
    cursor = encode("StreamCursor", "positions { topic: STREAM_TOPIC_ROUTED partition: 0 next_offset: 42 } "
                    "positions { topic: STREAM_TOPIC_ALERTS partition: 3 next_offset: 7 }")
    write("stream_cursor", "two", base64.urlsafe_b64encode(cursor).rstrip(b"="))
    write("stream_cursor", "bad", b"not a cursor")
    # signature: valid headers for each scheme, then the body.
    body = b'{"object":"page","entry":[]}'
    meta = b"sha256=" + hmac.new(b"consumer-secret", body, hashlib.sha256).hexdigest().encode()
    xsig = b"sha256=" + base64.b64encode(hmac.new(b"consumer-secret", body, hashlib.sha256).digest())
    key = base64.b64decode("c2VjcmV0LWtleS0xMjM0NTY=")
    sw = b"v1," + base64.b64encode(hmac.new(key, b"msg_1.1767225600." + body, hashlib.sha256).digest())
    write("signature", "meta", frame(meta, b"", b"", b"", body))
    write("signature", "x", frame(xsig, xsig, b"", b"", body))
    write("signature", "standard", frame(b"v1,bad " + sw, b"", b"msg_1", b"1767225600", body))
    write("signature", "telegram", frame(b"consumer-secret", b"", b"", b"", b""))
    # http_server: what clients send.
    write("http_server", "get", b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
    write("http_server", "post", b"POST /webhooks/meta?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 28\r\n"
          b"Content-Type: application/json\r\n\r\n" + body)
    write("http_server", "pipelined", b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nPOST /slow HTTP/1.1\r\nHost: a\r\n"
          b"Content-Length: 2\r\n\r\n{}GET /c HTTP/1.0\r\n\r\n")
    write("http_server", "chunked", b"POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
          b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\n")
    write("http_server", "continue", b"POST /b HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
          b"Content-Length: 5\r\n\r\nhello")
    write("http_server", "too_large", b"POST /b HTTP/1.1\r\nContent-Length: 99999\r\n\r\nxx")


if __name__ == "__main__":
    main()
