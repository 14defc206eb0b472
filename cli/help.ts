// `--help` text, generated from the command definitions: the command list, and per command its
// synopsis, every option on one line (flag, value placeholder, description) and its examples.
// `reft-studio help [COMMAND]` is read as `reft-studio [COMMAND] --help` (helpWordAsFlag).

import { TOKENIZE_DEADLINE_MS } from '../native-runtime/tokenizer/tokenize-watchdog.ts';
import { GLOBAL_OPTIONS, type OptionDef, type OptionSpec } from './args.ts';
import type { Command } from './command.ts';

/** Every exit status the CLI ends with, as README's "Exit codes" says them. */
export const EXIT_CODES = `0 done, 1 error, 2 bad usage, 130 interrupted (Ctrl-C, SIGTERM, SIGHUP), 137 killed after a tokenization ran past ${TOKENIZE_DEADLINE_MS / 1000} s`;

/** The placeholder the usage line gives an option (`--rank R` → R), if any. */
function placeholderFromUsage(usage: string, name: string): string | undefined {
  const m = new RegExp(`--${name}[ =]([^\\s\\]|()][^\\s\\])]*)`).exec(usage);
  // `--model DIR|--synthetic NAME`: the value ends where the next alternative flag starts.
  const value = m?.[1].split('|-')[0];
  return value && !value.startsWith('-') ? value : undefined;
}

function flagText(name: string, o: OptionDef, usage: string): string {
  const short = o.short ? `-${o.short}, ` : '';
  const value = o.type === 'string' ? ` ${o.value ?? placeholderFromUsage(usage, name) ?? 'VALUE'}` : '';
  return `${short}--${name}${value}`;
}

/** Option lines: flags padded to one column, then the description. */
export function optionLines(spec: OptionSpec, usage = ''): string[] {
  const rows = Object.entries(spec).map(([name, o]) => [flagText(name, o, usage), o.description]);
  const width = Math.min(28, Math.max(...rows.map(([f]) => f.length)));
  return rows.map(([f, d]) => (f.length > width ? `  ${f}  ${d}` : `  ${f.padEnd(width)}  ${d}`));
}

export function commandHelp(c: Command): string {
  const own = c.options && Object.keys(c.options).length ? c.options : null;
  return [
    `usage: reft-studio ${c.usage}`,
    '',
    c.summary,
    ...(own ? ['', 'options:', ...optionLines(own, c.usage)] : []),
    '',
    'global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    c.examples.length > 1 ? 'examples:' : 'example:',
    ...c.examples.map((e) => `  reft-studio ${e}`),
    ...(c.stream
      ? [
          '',
          'With --json: the result as one JSON object on stdout, and the progress as JSON events',
          '(one per line) on stderr.',
        ]
      : []),
    '',
    `exit codes: ${EXIT_CODES}`,
  ].join('\n');
}

/** The command list (all, or one group's: `reft-studio models --help`). */
export function commandList(commands: Command[], prefix?: string): string {
  const shown = prefix
    ? commands.filter((c) => c.name === prefix || c.name.startsWith(`${prefix} `))
    : commands;
  const width = Math.max(...shown.map((c) => c.name.length));
  return [
    'usage: reft-studio <command> [options] [--json] [--quiet] [--data-dir DIR]',
    '',
    prefix ? `${prefix} commands:` : 'commands:',
    ...shown.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'global options:',
    ...optionLines({
      ...GLOBAL_OPTIONS,
      version: { type: 'boolean', description: 'print the version and exit' },
    }),
    '',
    `Run \`reft-studio help <command>\` (or \`reft-studio <command> --help\`) for a command's options and an example.`,
    `exit codes: ${EXIT_CODES}`,
  ].join('\n');
}

/**
 * `reft-studio help [COMMAND…]` as `reft-studio [COMMAND…] --help`, the word people type for help:
 * only where `help` is the first command word (global flags may precede it, as before a command), so
 * a tag or a prompt that reads "help" stays an argument. Any other argv comes back as it is.
 */
export function helpWordAsFlag(argv: string[]): string[] {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') break;
    if (a.startsWith('-')) {
      // `--data-dir X` takes the next word, as findCommand reads it.
      if (a === '--data-dir') i++;
      continue;
    }
    return a === 'help' ? [...argv.slice(0, i), ...argv.slice(i + 1), '--help'] : argv;
  }
  return argv;
}
