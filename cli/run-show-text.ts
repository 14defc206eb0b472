// What `reft-studio runs show ID` prints for people: what the studio's run page shows, at 80 columns.
// Its sections, in the page's order: what happened (status, why it stopped, what to do next), where
// it ran and in what precision, its model, data and adapter, the last step's numbers and the best
// evaluation, its sweep, the configuration in the Configuration tab's groups and words
// (library/run-config.ts), the probe answers as the Probes tab's cards (library/probe-cards.ts), and
// the metrics table. Long texts are wrapped; a long probe answer and a long run's middle steps are cut
// with a marker naming --json, which carries everything. Looking names up (model, dataset) is the
// caller's: this module only words.

import { sweepVariedWords } from '../electron/backend/jobs/sweep-params.ts';
import { cardText, probeRows } from '../electron/backend/library/probe-cards.ts';
import { configRows } from '../electron/backend/library/run-config.ts';
import type { RunDetail } from '../electron/backend/library/runs.ts';
import type { RunSweep } from '../electron/backend/library/sweeps.ts';
import { visibleControls } from '../native-runtime/control-characters.ts';
import { plural } from '../native-runtime/plural.ts';
import { deviceText, runAskedDevice, runDevice } from '../native-runtime/runtime/device-choice.ts';
import { precisionText, runAskedPrecision } from '../native-runtime/runtime/precision-used.ts';
import { TERMINAL_WIDTH, table } from './command.ts';
import { displayWidth, padToWidth } from './display-width.ts';
import { bestText } from './run-training.ts';
import { cutText, wrapText } from './terminal-text.ts';

/** The width `runs show` keeps to: a terminal's default, as the listing tables fit to. */
const WIDTH = TERMINAL_WIDTH;
/** A probe answer's characters shown; the rest is cut (--json has it whole). */
export const SHOWN_ANSWER_CHARS = 300;
/** A run with more metric rows than this shows its first and last ones only. */
export const SHOWN_METRIC_ROWS = 30;
const FIRST_METRIC_ROWS = 5;

/** What the caller looked up for the run: names people know, and the commands to suggest. */
export interface RunShowNames {
  /** The base model's library name, or null where it was removed from the library. */
  model: string | null;
  /** The dataset version as the library names it (dataset “persona” v2), or null. */
  dataset: string | null;
  /** `reft-studio runs resume ID …` as this command line would type it. */
  resume: string;
  /** `reft-studio adapters show ID …`, for the run's adapter. */
  adapter: (id: number) => string;
  /**
   * What to do about a failed run that resuming would fail the same way (run-training.ts
   * failedRunNext); null where resuming is the remedy once its cause is put right.
   */
  failedNext: string | null;
}

export function runShowText(run: RunDetail, names: RunShowNames): string {
  const sections = [
    [...storyLines(run, names), ...originLines(run, names), ...numberLines(run)].join('\n'),
    configText(run, names),
    probeText(run),
    metricsText(run),
  ];
  return sections.filter((s) => s !== '').join('\n\n');
}

/** The head line and what happened to the run, in the run page's words. */
function storyLines(run: RunDetail, names: RunShowNames): string[] {
  const lines = [`run ${run.id}${run.name ? ` "${run.name}"` : ''}: ${run.status}`];
  const ck = run.checkpoints.at(-1) ?? null;
  const of = run.totalSteps !== null ? ` of ${run.totalSteps}` : '';
  const kept = !ck
    ? ''
    : run.lastCheckpointAdapterId !== null
      ? `; its last checkpoint, at step ${ck.step}, is kept as adapter ${run.lastCheckpointAdapterId}`
      : `; its last checkpoint is at step ${ck.step}`;
  switch (run.status) {
    case 'failed':
      lines.push(...wrapText(`failed: ${run.error ?? 'no reason was recorded'}`, WIDTH, '  '));
      if (names.failedNext) lines.push(...wrapText(names.failedNext, WIDTH, '  '));
      else lines.push('once that is put right, continue it with:', commandLine(names.resume));
      break;
    case 'cancelled':
      lines.push(`cancelled at step ${run.lastStep ?? 0}${of}${kept}`);
      break;
    case 'paused':
    case 'interrupted':
      lines.push(
        `${run.status} at step ${run.lastStep ?? 0}${of}${kept}`,
        `${ck ? 'continue it' : 'start it again'} with:`,
        commandLine(names.resume),
      );
      break;
    case 'completed':
      // The reason's numbers are a line of the run's log; the run's page words it so too.
      if (run.stoppedEarly)
        lines.push(`stopped early at step ${run.lastStep}${of}: the held-out loss stopped improving`);
      break;
  }
  if (run.sweep) lines.push(...wrapText(sweepLine(run.sweep), WIDTH, '  '));
  return lines;
}

/** A command to type, on a line of its own and never wrapped: a line break would end it in a shell. */
const commandLine = (command: string): string => `  ${command}`;

/** `sweep 3 (learning rate × rank): runs 4, 5, 6`, for a run queued in a sweep. */
function sweepLine(sweep: RunSweep): string {
  const runs = sweep.runIds.length > 1 ? `runs ${sweep.runIds.join(', ')}` : 'its other runs were deleted';
  return `sweep ${sweep.id} (${sweepVariedWords(sweep.varied)}): ${runs}`;
}

/** Where it ran, and what it trained: the model, the data and the adapter it made. */
function originLines(run: RunDetail, names: RunShowNames): string[] {
  // No device recorded: no step has run yet, or a run from before runs recorded it.
  const ran = runDevice(run);
  const asked = `device: ${runAskedDevice(run.config)} asked for`;
  const device = ran
    ? deviceText(ran)
    : run.lastStep === null
      ? `${asked}; no step has run yet`
      : `${asked}; where its steps ran was not recorded`;
  const folder = typeof run.config.model === 'string' ? run.config.model : null;
  const model =
    run.modelId !== null && names.model !== null
      ? `model: ${run.modelId} "${names.model}"`
      : `model: removed from the library${folder ? `; it trained on ${folder}` : ''}`;
  const lines = [...wrapText(device, WIDTH, '  '), ...precisionLines(run), ...wrapText(model, WIDTH, '  ')];
  if (names.dataset) lines.push(`data: ${names.dataset}`);
  if (run.adapterId !== null)
    lines.push(`adapter: ${run.adapterId}; see it with:`, commandLine(names.adapter(run.adapterId)));
  return lines;
}

/**
 * What the steps computed in, beside what the config asked for where auto did not choose it; nothing
 * before a step has run, and "not recorded" for a run recorded before runs kept it (never a guess).
 */
function precisionLines(run: RunDetail): string[] {
  const asked = runAskedPrecision(run.config);
  const ran = precisionText(asked, run.precision);
  if (ran) return [`precision: ${ran}`];
  return run.lastStep === null ? [] : [`precision: ${asked} asked for; what it computed in was not recorded`];
}

/** The last step's numbers and the best evaluation, as the run page's stats row. */
function numberLines(run: RunDetail): string[] {
  const last = run.metrics.at(-1);
  if (!last) return [run.status === 'queued' ? 'no step yet: it waits for its turn' : 'no step recorded'];
  const parts = [`step ${last.step}${run.totalSteps !== null ? ` of ${run.totalSteps}` : ''}`];
  if (last.loss !== null) parts.push(`loss ${last.loss.toFixed(4)}`);
  // The latest held-out loss, which an evaluation every N steps leaves on an earlier step.
  const evaluated = run.metrics.findLast((m) => m.evalLoss !== null);
  if (evaluated?.evalLoss != null)
    parts.push(
      `held-out loss ${evaluated.evalLoss.toFixed(4)}${evaluated.step !== last.step ? ` (step ${evaluated.step})` : ''}`,
    );
  const lines = [parts.join(', ')];
  if (run.best) lines.push(bestText(run.best, run.best.kept));
  return lines;
}

/** The configuration in the Configuration tab's groups: a label column, values wrapped beside it. */
function configText(run: RunDetail, names: RunShowNames): string {
  const groups = configRows(
    run.config,
    names.dataset ?? undefined,
    run.device ?? undefined,
    run.precision ?? undefined,
  );
  if (!groups.length) return 'configuration: none recorded';
  // In terminal columns, not UTF-16 units: a folder named in CJK or with an emoji is twice as wide.
  const labelWidth = Math.max(...groups.flatMap((g) => g.rows.map((r) => displayWidth(r.field.label))));
  const indent = ' '.repeat(4 + labelWidth + 2);
  const lines = ['configuration:'];
  for (const g of groups) {
    lines.push(`  ${g.title}`);
    for (const r of g.rows) {
      const label = `    ${padToWidth(r.field.label, labelWidth)}`;
      // A folder is never broken (it is copied whole): one too long for its column goes below it.
      if (!r.text.includes(' ') && indent.length + displayWidth(r.text) > WIDTH) {
        lines.push(label, `${' '.repeat(6)}${r.text}`);
        continue;
      }
      const [first = '', ...rest] = wrapText(r.text, WIDTH - indent.length, '');
      lines.push(`${label}  ${first}`, ...rest.map((l) => indent + l));
    }
  }
  return lines.join('\n');
}

/** The probe answers as the Probes tab's cards: each prompt, then its answer at each step. */
function probeText(run: RunDetail): string {
  const rows = probeRows(run.samples);
  if (!rows.length) return '';
  const every = (run.config.probe as { every?: number } | null | undefined)?.every;
  const lines = [
    `probe answers (${plural(rows.length, 'prompt')}${every ? `, every ${plural(every, 'step')}` : ''}; step 0 is before training):`,
  ];
  for (const row of rows) {
    lines.push(...wrapText(`"${visibleControls(row.prompt)}"`, WIDTH, '    ', '  '));
    const stepWidth = Math.max(...row.cards.map((c) => `step ${c.step}`.length));
    const indent = ' '.repeat(4 + stepWidth + 2);
    for (const card of row.cards) {
      const answer = cutText(visibleControls(cardText(card)), SHOWN_ANSWER_CHARS);
      const [first = '', ...rest] = answer.split('\n').flatMap((l) => wrapText(l, WIDTH - indent.length, ''));
      const label = `step ${card.step}`.padEnd(stepWidth);
      lines.push(`    ${label}  ${first}`, ...rest.map((l) => indent + l));
    }
  }
  return lines.join('\n');
}

/** Every step's numbers; a long run's first and last steps, with a line saying how many are left out. */
function metricsText(run: RunDetail): string {
  if (!run.metrics.length) return 'no metrics recorded';
  const long = run.metrics.length > SHOWN_METRIC_ROWS;
  const shown = long
    ? [
        ...run.metrics.slice(0, FIRST_METRIC_ROWS),
        ...run.metrics.slice(FIRST_METRIC_ROWS - SHOWN_METRIC_ROWS),
      ]
    : run.metrics;
  const rows = shown.map((m) => [
    m.step,
    m.epoch?.toFixed(2),
    m.loss?.toFixed(4),
    m.lr?.toExponential(2),
    m.gradNorm?.toFixed(3),
    m.tokensPerS?.toFixed(0),
    m.evalLoss?.toFixed(4),
  ]);
  const lines = table(['STEP', 'EPOCH', 'LOSS', 'LR', 'GRAD_NORM', 'TOK/S', 'EVAL_LOSS'], rows).split('\n');
  // The marker goes between the first steps and the last (the head is line 0).
  const hidden = run.metrics.length - SHOWN_METRIC_ROWS;
  if (long)
    lines.splice(1 + FIRST_METRIC_ROWS, 0, `… ${plural(hidden, 'step')} not shown (--json lists every step)`);
  return `metrics:\n${lines.join('\n')}`;
}
