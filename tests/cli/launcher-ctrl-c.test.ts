// The launcher (bin/reft-studio.js) restarts the CLI as its child when the CUDA runtime pack is
// installed (native-runtime/runtime/launch.ts). Ctrl-C on a terminal reaches the whole foreground
// process group, the child included; the launcher must not pass it on as well, or one press
// arrives twice — and a second Ctrl-C within 2 s means "stop at once" to the CLI.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { appRoot } from '../../electron/backend/paths.ts';
import { engineEnv } from '../../native-runtime/runtime/cuda-pack.ts';
import { installCudaPack } from '../../native-runtime/runtime/runtime-install.ts';
import { tempDir } from '../helpers/temp.ts';

const ROOT = appRoot();
const hasScript = spawnSync('script', ['--version']).status === 0;

test('one Ctrl-C on a terminal reaches the relaunched CLI once', {
  skip: hasScript && process.platform === 'linux' ? false : 'needs Linux and util-linux `script`',
}, async () => {
  const dir = tempDir('reft-launch-');
  const data = join(dir, 'data');
  // A pack with stand-in CUDA libraries is enough for the launcher to relaunch.
  const fake = join(ROOT, 'tests', 'fixtures', 'cuda-pack');
  const src = join(dir, 'src');
  cpSync(join(fake, 'fake-provider'), src, { recursive: true });
  cpSync(join(fake, 'fake-cuda'), src, { recursive: true });
  await installCudaPack(data, { from: src });
  assert.ok(engineEnv(data, process.env), 'the pack makes the launcher restart its script');

  // The relaunched "CLI": counts the SIGINTs it gets while idle (so each delivery is seen on its
  // own), and exits 130 once none came for 1.5 s.
  const child = join(dir, 'child.mjs');
  writeFileSync(
    child,
    `let n = 0, quiet;
process.on('SIGINT', () => { n++; console.log('sigint ' + n); clearTimeout(quiet); quiet = setTimeout(() => { console.log('count ' + n); process.exit(130); }, 1500); });
console.log('ready');
setInterval(() => {}, 1000);`,
  );
  const launcher = join(dir, 'launcher.mjs');
  const launch = join(ROOT, 'native-runtime', 'runtime', 'launch.ts');
  writeFileSync(
    launcher,
    // A launcher slow to react (a busy machine): anything it passed on would come as a second signal.
    `process.on('SIGINT', () => { const t = Date.now(); while (Date.now() - t < 100) {} });
const { relaunchCli } = await import(${JSON.stringify(launch)});
process.exitCode = await relaunchCli(${JSON.stringify(child)}, ['--data-dir', ${JSON.stringify(data)}]);`,
  );
  const cmd = [process.execPath, '--import', 'tsx', launcher].map((a) => `'${a}'`).join(' ');
  const term = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const PRESSES = 5;
  let presses = 0;
  const lines: string[] = [];
  const exited = new Promise<number | null>((r) => term.on('close', (code) => r(code)));
  createInterface({ input: term.stdout }).on('line', (l) => {
    const line = l.replace(/^(\^C)+/, '').trim();
    lines.push(line);
    // Five presses, each once the last was heard (and a doubled one would have been too).
    if (line === 'ready' || (/^sigint [1-4]$/.test(line) && presses < PRESSES)) {
      presses++;
      setTimeout(() => term.stdin.write('\x03'), 300);
    }
  });
  assert.equal(await exited, 130, lines.join('\n'));
  assert.ok(lines.includes(`count ${PRESSES}`), `one SIGINT per press:\n${lines.join('\n')}`);
});
