"""A push consumer of the official Apache RocketMQ C++ client (PyPI `rocketmq` 0.4.4, which
bundles librocketmq.so), driven by tests/client_interop_cpp.rs.

    cpp_consumer.py --namesrv HOST:PORT --group G --topic T
                    [--expr '*'] [--instance NAME] [--props a,b,...]
                    [--expect N [--linger S]] [--timeout S]

Prints one JSON object per line on stdout:
  {"event": "started", "instance": ...}                  once the consumer has started
  {"event": "message", "id", "uniq_key", "topic", "tags", "keys", "props", "body_hex",
   "queue_id", "queue_offset", "reconsume_times"}       one per delivery (duplicates too)
  {"event": "stopped", "reason": ..., "received": N}    after a clean shutdown

It stops, shutting the consumer down cleanly (offsets committed, group left), on the first of:
--expect N deliveries (then --linger more seconds, so duplicates can still show up), stdin
closed by the parent, or --timeout seconds (a deadline, so a failed test never leaves it
running). The C++ client writes its logs under $HOME/logs/rocketmq-cpp: the caller sets HOME.

The Python binding reads bodies as C strings (ctypes c_char_p): a body is cut at its first
NUL byte, so callers send bodies without NUL bytes.
"""
import argparse
import json
import sys
import threading

from rocketmq.client import PushConsumer, RecvMessage
from rocketmq.exceptions import ffi_check
from rocketmq.ffi import dll

CONSUME_SUCCESS = 0


def text(v):
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--namesrv", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--expr", default="*")
    ap.add_argument("--instance", default=None)
    ap.add_argument("--props", default="", help="comma-separated user property names to report")
    ap.add_argument("--expect", type=int, default=0, help="stop after this many deliveries")
    ap.add_argument("--linger", type=float, default=2.0, help="seconds to keep consuming after --expect")
    ap.add_argument("--timeout", type=float, default=120.0, help="stop after this many seconds")
    args = ap.parse_args()
    prop_names = [p for p in args.props.split(",") if p]

    out_lock = threading.Lock()
    received = [0]
    stop = threading.Event()
    reason = ["timeout"]

    def emit(obj):
        line = json.dumps(obj, ensure_ascii=False)
        with out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def finish(why):
        with out_lock:
            if not stop.is_set():
                reason[0] = why
                stop.set()

    # Registered directly, not through PushConsumer.subscribe(), which re-raises a callback's
    # exception out of the ctypes callback (the client then reads an undefined status).
    def on_message(_consumer, handle):
        try:
            m = RecvMessage(handle)
            body = m.body or b""
            emit({
                "event": "message",
                "id": text(m.id),
                "uniq_key": text(m.get_property("UNIQ_KEY")),
                "topic": text(m.topic),
                "tags": text(m.tags),
                "keys": text(m.keys),
                "props": {p: text(m.get_property(p)) for p in prop_names},
                "body_hex": body.hex(),
                "queue_id": m.queue_id,
                "queue_offset": m.queue_offset,
                "reconsume_times": m.reconsume_times,
            })
        except Exception as e:  # reported, and the message is still acknowledged
            emit({"event": "error", "error": repr(e)})
        with out_lock:
            received[0] += 1
            n = received[0]
        if args.expect and n == args.expect:
            threading.Timer(args.linger, finish, ("expect",)).start()
        return CONSUME_SUCCESS

    def watch_stdin():
        sys.stdin.read()  # returns when the parent closes our stdin (or exits)
        finish("stdin")

    c = PushConsumer(args.group)
    c.set_namesrv_addr(args.namesrv)
    instance = args.instance or "cpp_interop_%s" % args.group
    c.set_instance_name(instance)
    ffi_check(dll.Subscribe(c._handle, args.topic.encode(), args.expr.encode()))
    c._register_callback(on_message)
    c.start()
    emit({"event": "started", "instance": instance})
    threading.Thread(target=watch_stdin, daemon=True).start()
    stop.wait(args.timeout)
    finish("timeout")
    c.shutdown()
    ffi_check(dll.DestroyPushConsumer(c._handle))
    c._handle = None  # the wrapper's __del__ would shut down twice
    emit({"event": "stopped", "reason": reason[0], "received": received[0]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
