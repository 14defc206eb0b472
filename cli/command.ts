// The shape of one CLI command and the helpers every command uses: output in people or --json form
// (exactly one JSON object on stdout), and opening the library in the data folder.

import { closeLibrary, type Library, openLibrary } from '../electron/backend/library/library.ts';
import { resolveDataDir } from '../electron/backend/paths.ts';
import type { ArgValues, OptionSpec } from './args.ts';

export interface CommandContext {
  /** Positional arguments after the command words. */
  args: string[];
  values: ArgValues;
  json: boolean;
  dataDir: string;
  /** Prints the command's result: `json` as one object with --json, else the `human` text. */
  print(json: Record<string, unknown>, human: () => string): void;
  /** Opens the library for the duration of fn. */
  withLibrary<T>(fn: (lib: Library) => T | Promise<T>): Promise<T>;
}

export interface Command {
  /** One or two words: 'serve', 'models list'. */
  name: string;
  summary: string;
  /** Synopsis after `reft-studio`, e.g. 'models add DIR [--name NAME]'. */
  usage: string;
  options?: OptionSpec;
  /** Returns the exit code (default 0). Throw ReftErrors for failures. */
  run(ctx: CommandContext): Promise<number | undefined> | number | undefined;
}

export function makeContext(
  args: string[],
  values: ArgValues,
  stdout: (s: string) => void,
): CommandContext & { printed: boolean } {
  const json = values.json === true;
  const dataDir = resolveDataDir(typeof values['data-dir'] === 'string' ? values['data-dir'] : undefined);
  const ctx = {
    args,
    values,
    json,
    dataDir,
    printed: false,
    print(obj: Record<string, unknown>, human: () => string) {
      if (ctx.printed && json) throw new Error('a command printed two JSON objects');
      ctx.printed = true;
      stdout(json ? `${JSON.stringify(obj)}\n` : `${human().replace(/\n?$/, '\n')}`);
    },
    async withLibrary<T>(fn: (lib: Library) => T | Promise<T>): Promise<T> {
      const lib = openLibrary(dataDir);
      try {
        return await fn(lib);
      } finally {
        closeLibrary(lib);
      }
    },
  };
  return ctx;
}

/** A plain-text table: columns padded to their widest cell. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c == null ? '-' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  '))
    .join('\n');
}

export function formatBytes(n: number | null | undefined): string {
  if (n == null) return '-';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 && i ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function formatCount(n: number | null | undefined): string {
  if (n == null) return '-';
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

export function formatTime(ms: number | null | undefined): string {
  return ms == null ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}
