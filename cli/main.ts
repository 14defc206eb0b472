// `reft-studio` command line entry: main(argv) finds the command, parses its flags and runs it.
// Rules (docs/cli.md): `--json` prints exactly ONE JSON object on stdout (logs go to stderr); a
// failure prints one line `error: <message>` on stderr, no stack trace, and exits non-zero
// (1 for a failure, 2 for bad usage). With --json a failure also prints {"error": {type, code, message}}.
//
// ADDING A COMMAND: write cli/commands/<name>.ts exporting a Command (or Command[]) — see
// cli/command.ts for the shape: {name: 'models inspect', summary, usage, options?, run(ctx)} — and
// add one line to COMMANDS below. Put the real work in a library module (native-runtime/ or
// electron/backend/library/) so the studio backend and the tests share it; the command only parses
// flags and prints. Names are one or two words; `--help` output is generated from the registry.

import { ReftError, toWireError } from '../native-runtime/errors.ts';
import { findCommand, parseCommandArgs, UsageError } from './args.ts';
import { type Command, makeContext } from './command.ts';
import { adaptersCommands } from './commands/adapters.ts';
import { benchCommands } from './commands/bench.ts';
import { chatTemplateCommand } from './commands/chat-template.ts';
import { datasetsCommands } from './commands/datasets.ts';
import { debugCommands } from './commands/debug.ts';
import { devicesCommand } from './commands/devices.ts';
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
  ...debugCommands,
  ...benchCommands,
  devicesCommand,
  ...runtimeCommands,
  trainCommand,
];

function helpText(commands: Command[], prefix?: string): string {
  const shown = prefix
    ? commands.filter((c) => c.name === prefix || c.name.startsWith(`${prefix} `))
    : commands;
  const width = Math.max(...shown.map((c) => c.name.length));
  const lines = shown.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'usage: reft-studio <command> [options] [--json] [--data-dir DIR]',
    '',
    prefix ? `${prefix} commands:` : 'commands:',
    ...lines,
    '',
    'global options:',
    '  --json          print exactly one JSON object on stdout',
    '  --data-dir DIR  library folder (default: $REFT_STUDIO_HOME or the OS app-data folder)',
    '  -h, --help      show help (also: reft-studio <command> --help)',
  ].join('\n');
}

function commandHelp(c: Command): string {
  return `usage: reft-studio ${c.usage} [--json] [--data-dir DIR]\n\n${c.summary}`;
}

export interface MainIO {
  stdout?: (s: string) => void;
  stderr?: (s: string) => void;
}

export async function main(argv: string[], io: MainIO = {}, commands: Command[] = COMMANDS): Promise<number> {
  const stdout = io.stdout ?? ((s: string) => process.stdout.write(s));
  const stderr = io.stderr ?? ((s: string) => process.stderr.write(s));
  const wantsJson = argv.includes('--json');
  const fail = (err: unknown, code: number): number => {
    const w = toWireError(err);
    stderr(`error: ${w.message}\n`);
    if (wantsJson) stdout(`${JSON.stringify({ error: w })}\n`);
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
        stdout(`${helpText(commands)}\n`);
        return help || argv.length === 0 ? 0 : 2;
      }
      const group = found.words[0];
      if (commands.some((c) => c.name.startsWith(`${group} `))) {
        if (help && found.words.length === 1) {
          stdout(`${helpText(commands, group)}\n`);
          return 0;
        }
        stderr(`${helpText(commands, group)}\n`);
        return fail(
          new UsageError(`unknown ${group} command "${found.words.slice(1).join(' ') || '(none)'}"`),
          2,
        );
      }
      return fail(new UsageError(`unknown command "${found.words.join(' ')}" (see reft-studio --help)`), 2);
    }
    const cmd = commands.find((c) => c.name === found.name);
    if (!cmd) throw new UsageError(`unknown command "${found.name}"`);
    if (help) {
      stdout(`${commandHelp(cmd)}\n`);
      return 0;
    }
    const { values, positionals } = parseCommandArgs(found.rest, cmd.options);
    const ctx = makeContext(positionals, values, stdout);
    const code = (await cmd.run(ctx)) ?? 0;
    if (ctx.json && !ctx.printed) stdout('{}\n');
    return code;
  } catch (e) {
    if (e instanceof UsageError) return fail(e, 2);
    if (!(e instanceof ReftError) && process.env.REFT_STUDIO_DEBUG) stderr(`${(e as Error).stack}\n`);
    return fail(e, 1);
  } finally {
    console.log = origLog;
  }
}
