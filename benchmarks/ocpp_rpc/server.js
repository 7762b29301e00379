// A minimal OCPP 1.6 CSMS on ocpp-rpc's RPCServer, for benchmarks/fleet.py.
//
//   node server.js PORT   -> prints "listening PORT" once it accepts connections
//
// strictMode validates every call and every answer against ocpp-rpc's own OCPP 1.6
// schemas; BootNotification is Accepted with a 30 s heartbeat, Heartbeat gets the time,
// every other call an empty answer (strictMode turns an answer its schema refuses into a
// CALLERROR, as it would for a real CSMS).  Nothing is printed per message.
"use strict";
const { RPCServer } = require("ocpp-rpc");

const port = Number(process.argv[2] || 9000);
const server = new RPCServer({ protocols: ["ocpp1.6"], strictMode: true });

server.auth((accept) => accept());
server.on("client", (client) => {
  client.handle("BootNotification", () => ({
    status: "Accepted",
    interval: 30,
    currentTime: new Date().toISOString(),
  }));
  client.handle("Heartbeat", () => ({ currentTime: new Date().toISOString() }));
  client.handle("StatusNotification", () => ({}));
  client.handle(() => ({}));
});

server.listen(port, "127.0.0.1").then(() => console.log(`listening ${port}`));
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => server.close({ force: true }).then(() => process.exit(0)));
}
