# The C++ client against FerrumQ's mqnamesrv: a fake broker registers itself, the producer
# must find it through our route reply and send to it.
import json, socket, struct, sys, threading, time, subprocess, os
sys.path.insert(0, "/tmp/golden")
NS = sys.argv[1]
fb = socket.socket(); fb.bind(("127.0.0.1", 0)); fb.listen(8)
BPORT = fb.getsockname()[1]
got = []
def frame(h, body=b""):
    hb = json.dumps(h, separators=(",", ":")).encode()
    return struct.pack(">ii", 4 + len(hb) + len(body), len(hb)) + hb + body
def serve(c):
    buf = b""
    while True:
        d = c.recv(65536)
        if not d: return
        buf += d
        while len(buf) >= 4:
            (n,) = struct.unpack(">i", buf[:4])
            if len(buf) < 4 + n: break
            f, buf = buf[:4 + n], buf[4 + n:]
            (hl,) = struct.unpack(">i", f[4:8]); h = json.loads(f[8:8 + (hl & 0xffffff)])
            got.append(h["code"])
            if h.get("flag", 0) & 2: continue
            ext = {}
            if h["code"] == 10:
                ext = {"msgId": "7F00000100002A9F0000000000000000", "queueId": "0", "queueOffset": "0"}
            c.sendall(frame({"code": 0, "flag": 1, "language": "JAVA", "opaque": h["opaque"], "version": 409, "extFields": ext}))
def accept():
    while True:
        c, _ = fb.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
threading.Thread(target=accept, daemon=True).start()

body = json.dumps({"filterServerList": [], "topicConfigSerializeWrapper": {"dataVersion": {"counter": 1, "timestamp": 1},
    "topicConfigTable": {t: {"topicName": t, "readQueueNums": 4, "writeQueueNums": 4, "perm": 6, "topicFilterType": "SINGLE_TAG", "topicSysFlag": 0, "order": False} for t in ["TBW102", "CompatTopic"]}}}).encode()
reg = socket.create_connection(("127.0.0.1", int(NS.split(":")[1])))
reg.sendall(frame({"code": 103, "flag": 0, "language": "JAVA", "opaque": 1, "version": 409, "extFields": {
    "brokerName": "broker-a", "brokerAddr": "127.0.0.1:%d" % BPORT, "clusterName": "DefaultCluster",
    "haServerAddr": "127.0.0.1:1", "brokerId": "0", "compressed": "false", "bodyCrc32": "0"}}, body))
print("register reply bytes", len(reg.recv(4096)))

from rocketmq.client import Producer, Message
p = Producer("CompatPG"); p.set_namesrv_addr(NS); p.start()
m = Message("CompatTopic"); m.set_body("via ferrumq namesrv")
print("SEND", p.send_sync(m))
p.shutdown()
print("broker saw codes", sorted(set(got)))
