# Fake namesrv+broker on one port: records every frame the C++ client sends, answers
# enough for a producer send and a push consumer to proceed.
import json, socket, struct, sys, threading, time, os

OUT = sys.argv[1]
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0)); srv.listen(16)
PORT = srv.getsockname()[1]
open(os.path.join(OUT, "port"), "w").write(str(PORT))
seen = {}
lock = threading.Lock()

def reply(conn, req, code=0, ext=None, body=b""):
    h = {"code": code, "flag": 1, "language": "JAVA", "opaque": req["opaque"], "version": 409,
         "serializeTypeCurrentRPC": "JSON"}
    if ext: h["extFields"] = ext
    hb = json.dumps(h, separators=(",", ":")).encode()
    conn.sendall(struct.pack(">ii", 4 + len(hb) + len(body), len(hb)) + hb + body)

def route(topic):
    return ('{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:%d"},"brokerName":"broker-a","cluster":"DefaultCluster"}],'
            '"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,'
            '"topicSysFlag":0,"writeQueueNums":4}]}' % PORT).encode()

def handle(conn):
    buf = b""
    while True:
        d = conn.recv(65536)
        if not d: return
        buf += d
        while len(buf) >= 4:
            (n,) = struct.unpack(">i", buf[:4])
            if len(buf) < 4 + n: break
            frame, buf = buf[:4 + n], buf[4 + n:]
            (hl,) = struct.unpack(">i", frame[4:8])
            hdr = json.loads(frame[8:8 + (hl & 0xffffff)])
            code = hdr["code"]
            with lock:
                k = seen.get(code, 0); seen[code] = k + 1
            if k < 2:
                open(os.path.join(OUT, "code%d_%d.bin" % (code, k)), "wb").write(frame)
            if hdr.get("flag", 0) & 2: continue
            ext = hdr.get("extFields", {})
            if code == 105:
                reply(conn, hdr, 0, None, route(ext.get("topic")))
            elif code == 10:
                reply(conn, hdr, 0, {"msgId": "7F00000100002A9F0000000000000000", "queueId": str(ext.get("queueId", 0)), "queueOffset": "0"})
            elif code == 14:
                reply(conn, hdr, 0, {"offset": "0"})
            elif code == 11:
                time.sleep(1)
                reply(conn, hdr, 19, {"suggestWhichBrokerId": "0", "nextBeginOffset": "0", "minOffset": "0", "maxOffset": "0"})
            elif code == 38:
                reply(conn, hdr, 0, None, b'{"consumerIdList":["x"]}')
            else:
                reply(conn, hdr, 0)

def accept():
    while True:
        c, _ = srv.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()

threading.Thread(target=accept, daemon=True).start()

from rocketmq.client import Producer, Message, PushConsumer
addr = "127.0.0.1:%d" % PORT
p = Producer("GoldenPG")
p.set_namesrv_addr(addr)
p.start()
m = Message("GoldenTopic"); m.set_keys("k1"); m.set_tags("TagA"); m.set_body("hello golden")
try:
    print(p.send_sync(m))
except Exception as e:
    print("send error", e)
c = PushConsumer("GoldenCG")
c.set_namesrv_addr(addr)
c.subscribe("GoldenTopic", lambda msg: None, "TagA || TagB")
c.start()
time.sleep(6)
c.shutdown(); p.shutdown()
print(sorted(seen.items()))
