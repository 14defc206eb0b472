// `reft-studio serve`: the studio in a browser (see electron/backend/serve.ts). Runs until SIGINT or
// SIGTERM, then closes the server and the database: running trainings stop at a checkpoint first
// (resumable, 'interrupted'). A second SIGINT or SIGTERM while that goes on stops at once: the engine
// processes are killed before this process exits, never left training for nobody; the runs they
// ran read 'interrupted' when the library next opens.

import { isLoopback, type RunningServer, startServer } from '../../electron/backend/serve.ts';
import { intBetween, str } from '../args.ts';
import type { Command } from '../command.ts';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'serve the studio to a web browser (no Electron needed)',
  usage: 'serve [--host 127.0.0.1] [--port N] [--allow-remote] [--no-token] [--renderer-dir DIR]',
  options: {
    host: { type: 'string', description: 'address to listen on (default 127.0.0.1)' },
    port: {
      type: 'string',
      description: "port to listen on (default: the last launch's, so open tabs reconnect; else a free one)",
    },
    'allow-remote': {
      type: 'boolean',
      description:
        'allow a host reachable from other machines (over plain HTTP: whoever has the URL has your account)',
    },
    'no-token': { type: 'boolean', description: 'no access token in the URL (loopback hosts only)' },
    'renderer-dir': { type: 'string', description: 'serve another built renderer folder' },
  },
  examples: ['serve', 'serve --port 8080'],
  async run(ctx) {
    // Checked here as well as by the server, so that a bad port is bad usage naming the flag.
    const port = intBetween(ctx.values, 'port', 0, 65535);
    // With --json a log event, as every command's notes (the reporter); else the line as it always
    // was, --quiet or not. A warning of who can reach the studio ('alert') is never hidden: under
    // --json --quiet too it is a warn event.
    const say = (line: string, level: 'info' | 'warn' | 'alert' = 'info') =>
      ctx.json
        ? ctx.progress.log(line, level)
        : process.stderr.write(`${level === 'info' ? '' : 'warning: '}${line}\n`);
    // Listen for the stop signals first: a SIGTERM during start-up must still shut down cleanly.
    let server: RunningServer | null = null;
    let stopping = false;
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => {
      stop = () => {
        stopping = true;
        resolve();
      };
    });
    const onSignal = (sig: NodeJS.Signals) => {
      if (!stopping) return stop();
      say('stopping now');
      server?.backend.engine.killNow();
      process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    server = await startServer({
      dataDir: ctx.dataDir,
      host: str(ctx.values, 'host'),
      port,
      allowRemote: ctx.values['allow-remote'] === true,
      noToken: ctx.values['no-token'] === true,
      rendererDir: str(ctx.values, 'renderer-dir'),
    }).catch((e) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      throw e;
    });
    if (server.rendererMissing) {
      say(`${server.rendererDir} is missing: run \`npm run build:renderer\` to build the UI`, 'warn');
    }
    if (server.linkNotKept)
      say(
        `${server.linkNotKept}; a restarted server will print a new link, and open tabs will need it`,
        'warn',
      );
    // --allow-remote: plain HTTP, so the token and the library's contents cross the network readable,
    // and the token is no small key: the studio reads files by path (imports), writes folders
    // (exports) and installs native libraries its engines load (runtime packs) for whoever holds it.
    if (!isLoopback(server.host))
      say(
        `listening on ${server.host}, reachable from other machines over plain HTTP: the token and everything the studio shows travel unencrypted, and whoever has the token can read your files, write folders and install native code as you; use a network you trust, or a TLS proxy`,
        'alert',
      );
    if (ctx.values['no-token'] === true) say('--no-token: any local program can use the studio', 'alert');
    ctx.print(
      {
        url: server.url,
        host: server.host,
        port: server.port,
        token: server.token,
        dataDir: server.backend.dataDir,
      },
      () => `ReFT Studio is serving at ${server.url}`,
    );
    await stopped;
    say('shutting down (SIGINT or SIGTERM again to stop at once)');
    await server.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    return 0;
  },
};
