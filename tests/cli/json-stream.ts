// What a streaming command (train, runs resume, models download, runtime install) prints with
// --json, as a script reads it: the one result object on stdout (docs/cli.md's first rule), and the
// progress as JSON events, one a line, on stderr (electron/backend/jobs/progress-events.ts).

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

// biome-ignore lint/suspicious/noExplicitAny: JSON as the CLI printed it
export type Json = Record<string, any>;

/**
 * The events among stderr's lines. Every line that looks like JSON must be one; others (an `error:`
 * line, a `note:`) are left out.
 */
export function stderrEvents(stderr: string): Json[] {
  return stderr
    .split('\n')
    .map((l) => l.replace(/^(\^C)+/, '').trim())
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Json);
}

/**
 * Every line of stderr as the JSON event it must be: what a tool reading a long command's --json
 * stderr line by line parses (no plain progress line, no `warning:` line among them).
 */
export function onlyEvents(stderr: string): Json[] {
  const lines = stderr.split('\n').filter((l) => l !== '');
  return lines.map((l) => {
    try {
      const e = JSON.parse(l) as Json;
      assert.equal(typeof e.event, 'string', `not an event: ${l}`);
      return e;
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
      return assert.fail(`a stderr line is not JSON: ${l}\nstderr:\n${stderr}`);
    }
  });
}

/** The whole of stdout as the one JSON object it must be, and the events on stderr. */
export function jsonStream(stdout: string, stderr: string): { result: Json; events: Json[] } {
  let result: Json;
  try {
    result = JSON.parse(stdout);
  } catch {
    assert.fail(`stdout is not one JSON object:\n${stdout}\nstderr:\n${stderr}`);
  }
  assert.equal(stdout.trim().split('\n').length, 1, `one line on stdout: ${stdout}`);
  return { result, events: stderrEvents(stderr) };
}

/**
 * Follows a child's --json events on stderr as they come (`on` may signal it), and resolves once it
 * has exited with its exit code, its events, all of stderr and all of stdout.
 */
export function followEvents(
  child: ChildProcess,
  on: (e: Json) => void = () => {},
): Promise<{ code: number | null; events: Json[]; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const events: Json[] = [];
  child.stdout?.on('data', (d) => (stdout += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const lines = createInterface({ input: child.stderr as NodeJS.ReadableStream });
  const read = new Promise<void>((resolve) => lines.on('close', resolve));
  lines.on('line', (l) => {
    stderr += `${l}\n`;
    const [e] = stderrEvents(l);
    if (!e) return;
    events.push(e);
    on(e);
  });
  return Promise.all([exited, read]).then(([code]) => ({ code, events, stdout, stderr }));
}
