// The CLI run in this process (cli/main.ts) on one data folder, its output captured: for tests of
// short commands, which need no child process.

import { main } from '../../cli/main.ts';

export interface CliOutput {
  code: number;
  out: string;
  err: string;
}

/** `reft-studio ARGV... --data-dir dataDir`, returning its exit code, stdout and stderr. */
export async function cliIn(dataDir: string, ...argv: string[]): Promise<CliOutput> {
  let out = '';
  let err = '';
  const code = await main([...argv, '--data-dir', dataDir], {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
  });
  return { code, out, err };
}
