// `reft-studio` command line entry: main(argv) finds the command, parses its flags and runs it.
// Rules (docs/cli.md): `--json` prints exactly ONE JSON object on stdout (notes go to stderr as
// JSON-lines events; a streaming command's progress too: Command.stream). A failure prints one line
// `error: <message>` on stderr, no stack trace; with --json the one object is {"error": {type, code,
// message}} (plus `details`, such as a refused file's columns, where the error has some). Exit codes:
// 0 done, 1 error, 2 bad usage (what the command line alone shows to be wrong: UsageError, also for
// a library check of a value, cli/args.ts checkArgument), 130 interrupted (Ctrl-C), 137 killed by
// the tokenization watchdog (below); help.ts EXIT_CODES says them in --help.
//
// ADDING A COMMAND: write cli/commands/<name>.ts exporting a Command (or Command[]) — see
// cli/command.ts for the shape: {name: 'models inspect', summary, usage, options (each with its
// one-line description), examples, stream?, run(ctx)} — and add one line to COMMANDS below. Long
// work reports through ctx.progress (cli/progress/reporter.ts), never by writing lines itself. Put
// the real work in a library module (native-runtime/ or electron/backend/library/) so the studio
// backend and the tests share it; the command only parses flags and prints. `--help` output is
// generated from the registry (cli/help.ts).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { databaseDiskError } from '../electron/backend/db/disk-full.ts';
import { appRoot, appVersion } from '../electron/backend/paths.ts';
import { visibleControls } from '../native-runtime/control-characters.ts';
import { CancelledError, ReftError } from '../native-runtime/errors.ts';
import { plainError } from '../native-runtime/fs-errors.ts';
import {
  exitOnTokenizeDeadline,
  tokenizeTimeoutError,
} from '../native-runtime/tokenizer/tokenize-watchdog.ts';
import { wordedFor } from '../native-runtime/training/options.ts';
import { closestWord, findCommand, parseCommandArgs, positionalLimit, UsageError } from './args.ts';
import { type Command, makeContext } from './command.ts';
import { adaptersCommands } from './commands/adapters.ts';
import { benchCommands } from './commands/bench.ts';
import { chatTemplateCommand } from './commands/chat-template.ts';
import { datasetsCommands } from './commands/datasets.ts';
import { debugCommands } from './commands/debug.ts';
import { devicesCommand } from './commands/devices.ts';
import { evaluateCommand } from './commands/evaluate.ts';
import { exportCommand } from './commands/export.ts';
import { generateCommand } from './commands/generate.ts';
import { importCommand } from './commands/import.ts';
import { modelsCommands } from './commands/models.ts';
import { modelsHubCommands } from './commands/models-hub.ts';
import { modelsInspectCommand } from './commands/models-inspect.ts';
import { runsCommands } from './commands/runs.ts';
import { runtimeCommands } from './commands/runtime.ts';
import { serveCommand } from './commands/serve.ts';
import { tokenizeCommand } from './commands/tokenize.ts';
import { trainCommand } from './commands/train.ts';
import { badRowsHint, mapHint } from './data-flags.ts';
import { commandHelp, commandList, helpWordAsFlag } from './help.ts';
import { ctrlCActedOn } from './interrupt.ts';
import { visibleWriter } from './terminal-text.ts';

export const COMMANDS: Command[] = [
  serveCommand,
  ...modelsCommands,
  ...modelsHubCommands,
  ...datasetsCommands,
  ...runsCommands,
  ...adaptersCommands,
  importCommand,
  exportCommand,
  modelsInspectCommand,
  tokenizeCommand,
  chatTemplateCommand,
  generateCommand,
  evaluateCommand,
  ...debugCommands,
  ...benchCommands,
  devicesCommand,
  ...runtimeCommands,
  trainCommand,
];

export interface MainIO {
  stdout?: (s: string) => void;
  stderr?: (s: string) => void;
}

/** Exit code of an interrupted command (128 + SIGINT), as shells report it. */
export const EXIT_INTERRUPTED = 130;

function versionText(json: boolean): string {
  let ort = 'unknown';
  try {
    ort = (JSON.parse(
      readFileSync(join(appRoot(), 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8'),
    ).version ?? ort) as string;
  } catch {}
  const v = { version: appVersion(), onnxruntime: ort, node: process.version };
  return json
    ? JSON.stringify(v)
    : `reft-studio ${v.version} (onnxruntime-node ${v.onnxruntime}, node ${v.node})`;
}

/**
 * A reader that goes away (`generate … | head -c 10`; a program reading `train --json`'s events on
 * stderr that stops reading) makes the next write fail with EPIPE, which Node raises as an unhandled
 * 'error' event: a stack trace, and a run cut off wherever it was. Instead it counts as one Ctrl-C at
 * that moment, and the rest of that output is dropped. Work that takes Ctrl-C over (cli/interrupt.ts;
 * training pauses at the end of the step with a checkpoint, so `runs resume` continues it) hears it
 * and stops cleanly. Where nothing listens, a Ctrl-C would have ended the process at once (Node's
 * default: a quick command, `generate`, a training's memory-check count, with nothing recorded yet),
 * and so does this, quietly: without it the work went on to its end with nobody reading. Work already
 * done (a training in its last seconds, writing --out and its summary) finishes quietly too, exit 0.
 */
function readerGone(e: NodeJS.ErrnoException, say: (s: string) => void): void {
  if (process.listenerCount('SIGINT') === 0) process.exit(EXIT_INTERRUPTED);
  // The work is done and took Ctrl-C over only for the grace period: it finishes (--out written,
  // its result dropped), with no note of a stop that does not come.
  if (!ctrlCActedOn()) return;
  say(`note: the output was closed (${e.code ?? e.message}); stopping as for Ctrl-C\n`);
  process.emit('SIGINT', 'SIGINT');
}

/** A write to `stream` that stops writing once its reader went away, and then calls `gone` once. */
function closableWriter(
  stream: NodeJS.WriteStream,
  gone: (e: NodeJS.ErrnoException) => void,
): (s: string) => void {
  let closed = false;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (closed) return;
    closed = true;
    gone(e);
  });
  return (s) => {
    if (!closed) stream.write(s);
  };
}

export async function main(
  given: string[],
  io: MainIO = {},
  commands: Command[] = COMMANDS,
): Promise<number> {
  // `help train` is `train --help`.
  const argv = helpWordAsFlag(given);
  const wantsJson = argv.includes('--json');
  // What is printed for people shows control characters from files and models (terminal-text.ts);
  // --json on stdout stays exact for the programs that read it.
  // A closed stderr (`2>&1 | head`) drops what is left, and stops the work as a closed stdout does
  // only where stderr is what a program reads: a streaming command's --json events.
  let eventsOnStderr = false;
  const stderr = visibleWriter(
    io.stderr ?? closableWriter(process.stderr, (e) => eventsOnStderr && readerGone(e, () => {})),
  );
  const rawStdout = io.stdout ?? closableWriter(process.stdout, (e) => readerGone(e, stderr));
  const stdout = wantsJson ? rawStdout : visibleWriter(rawStdout);
  // The live bar needs the real terminal; output captured by a caller is never one.
  const tty = !io.stderr && process.stderr.isTTY ? process.stderr : undefined;
  let command: string | undefined;
  let ctx: ReturnType<typeof makeContext> | undefined;
  /** What a failure prints: its line on stderr and, with --json, its object on stdout. */
  const failure = (err: unknown): { line: string; json: string | null } => {
    // Node's file errors in words ("no such file or folder", not "ENOENT"), a mapping hint as flags.
    // SQLite's full disk names the library's database (only once the data folder is known).
    // A refusal the engine words for the studio and the CLI (an OptionError) in the CLI's words.
    const worded = wordedFor(err, 'cli');
    const plain = plainError(ctx ? databaseDiskError(worded, ctx.dataDir) : worded);
    const w = {
      ...plain,
      message: plain.message + mapHint(plain.details) + badRowsHint(plain, command, ctx?.values),
    };
    const json = JSON.stringify({ error: w });
    return { line: `error: ${w.message}\n`, json: wantsJson ? `${json}\n` : null };
  };
  const fail = (err: unknown, code: number): number => {
    const f = failure(err);
    stderr(f.line);
    if (f.json) stdout(f.json);
    return code;
  };

  // Library code must never write to stdout in --json mode: route stray console.log to stderr.
  const origLog = console.log;
  if (wantsJson) console.log = (...a: unknown[]) => console.error(...a);
  try {
    const found = findCommand(
      argv,
      commands.map((c) => c.name),
    );
    const help = argv.includes('--help') || argv.includes('-h');
    if (!found.name) {
      if (found.words.length === 0) {
        if (help || argv.length === 0) {
          stdout(`${commandList(commands)}\n`);
          return 0;
        }
        // Only flags: --version, or bad usage (an unknown flag is named by the parser).
        const { values } = parseCommandArgs(found.rest, {
          version: { type: 'boolean', description: 'print the version and exit' },
        });
        if (values.version === true) {
          stdout(`${versionText(wantsJson)}\n`);
          return 0;
        }
        throw new UsageError('missing command (see reft-studio --help)');
      }
      const group = found.words[0];
      if (commands.some((c) => c.name.startsWith(`${group} `))) {
        if (help && found.words.length === 1) {
          stdout(`${commandList(commands, group)}\n`);
          return 0;
        }
        // For people, the group's commands to choose from; --json keeps to the error line.
        if (!wantsJson) stderr(`${commandList(commands, group)}\n`);
        const sub = found.words.slice(1).join(' ');
        const subs = commands
          .filter((c) => c.name.startsWith(`${group} `))
          .map((c) => c.name.slice(group.length + 1));
        const meant = closestWord(sub, subs);
        return fail(
          new UsageError(
            sub
              ? `unknown ${group} command "${sub}"${meant ? ` (did you mean ${group} ${meant}?)` : ''}`
              : `missing ${group} command`,
          ),
          2,
        );
      }
      const firstWords = [...new Set(commands.map((c) => c.name.split(' ')[0]))];
      const meant = closestWord(group, firstWords);
      return fail(
        new UsageError(
          `unknown command "${found.words.join(' ')}" (${meant ? `did you mean ${meant}?` : 'see reft-studio --help'})`,
        ),
        2,
      );
    }
    const cmd = commands.find((c) => c.name === found.name);
    if (!cmd) throw new UsageError(`unknown command "${found.name}"`);
    command = cmd.name;
    if (help) {
      stdout(`${commandHelp(cmd)}\n`);
      return 0;
    }
    const most = positionalLimit(cmd.usage, cmd.name);
    const { values, positionals } = parseCommandArgs(found.rest, cmd.options, most > 0);
    if (positionals.length > most)
      throw new UsageError(`${cmd.name}: unexpected argument "${positionals[most]}"`);
    ctx = makeContext(positionals, values, { stdout, stderr, tty });
    // A short command's few --json events are no work to stop: only a long one's stream counts.
    eventsOnStderr = cmd.stream === true && ctx.progress.mode === 'events';
    // A tokenizer.json pattern that backtracks without end holds the only thread inside one encode,
    // deaf to Ctrl-C: past the deadline the watcher prints the error and kills the process (exit
    // status 137). Whatever it was writing is written atomically, and a run left 'running' is marked
    // interrupted when the library is next opened. Not for a caller's captured output (tests).
    if (!io.stdout && !io.stderr)
      exitOnTokenizeDeadline((file, ms) => {
        const f = failure(tokenizeTimeoutError(file, ms, 'the command was stopped'));
        // A live progress bar holds the line: the error goes below it.
        const line = { fd: 2, text: `${tty ? '\n' : ''}${visibleControls(f.line)}` };
        return f.json ? [line, { fd: 1, text: f.json }] : [line];
      });
    const code = (await cmd.run(ctx)) ?? 0;
    ctx.progress.close();
    if (ctx.json && !ctx.printed) stdout('{}\n');
    return code;
  } catch (e) {
    // The bar's last frame stays; the error line goes below it.
    ctx?.progress.close();
    if (e instanceof UsageError) return fail(e, 2);
    if (e instanceof CancelledError) return fail(e, EXIT_INTERRUPTED);
    if (!(e instanceof ReftError) && process.env.REFT_STUDIO_DEBUG) stderr(`${(e as Error).stack}\n`);
    return fail(e, 1);
  } finally {
    console.log = origLog;
  }
}
