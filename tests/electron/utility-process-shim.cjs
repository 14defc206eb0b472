// Electron's utility process, as far as electron/backend/utility-entry.ts uses it, for its bundle run
// under plain Node (`node --require this-file utility-entry.cjs`; the Electron binary cannot be
// downloaded here). The test stands in for Electron's main process over the IPC channel:
//   {type: 'parent', data}          → a parentPort 'message' event {data, ports: []}
//   {type: 'connect'}               → a parentPort 'message' event {data: {type: 'connect'}, ports: [port]},
//                                     `port` a MessagePortMain stand-in whose messages are relayed:
//   {type: 'port', data}           ↔ that port's messages, both ways
// What the entry posts on parentPort comes back as {type: 'parent', data}. process.resourcesPath is
// REFT_TEST_RESOURCES_PATH, as Electron sets it in the packaged app.
const { MessageChannel } = require('node:worker_threads');

const listeners = [];
process.parentPort = {
  postMessage: (data) => process.send({ type: 'parent', data }),
  on(event, listener) {
    if (event === 'message') listeners.push(listener);
    return this;
  },
};
process.resourcesPath = process.env.REFT_TEST_RESOURCES_PATH;

/** Electron's MessagePortMain: its 'message' listeners get an event {data}; 'close' when the window goes. */
function portMain(port) {
  return {
    postMessage: (data) => port.postMessage(data),
    on(event, listener) {
      if (event === 'message') port.on('message', (data) => listener({ data }));
      else if (event === 'close') port.on('close', () => listener());
      return this;
    },
    start: () => port.start(),
  };
}

let relay = null;
process.on('message', (m) => {
  if (m.type === 'port') relay?.postMessage(m.data);
  const ports = [];
  if (m.type === 'connect') {
    const { port1, port2 } = new MessageChannel();
    relay = port2;
    port2.on('message', (data) => process.send({ type: 'port', data }));
    ports.push(portMain(port1));
  }
  const data = m.type === 'connect' ? { type: 'connect' } : m.data;
  if (m.type !== 'port') for (const l of listeners) l({ data, ports });
});
