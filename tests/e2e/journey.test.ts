// End-to-end: the whole path a person takes, clicked through in a 1000×700 window against the real
// `reft-studio serve` in Chromium — from "I have some examples" to "I have a tested adapter I can use
// elsewhere". Upload a dataset with bad rows, review the rejects, split it; open the wizard, pick a
// recipe, look at the intervention preview for a chosen example; start a run on the split's train part
// validated on its validation part with probe prompts, and watch its chart and probe answers arrive;
// clone it into a second run, compare the two, cancel the second keeping its checkpoint; find both
// adapters; chat with both composed at different strengths next to the base model; export one as a
// downloaded zip and as a scale-out bundle. RPC is used only to wait and to inspect what the page did.
// Each step saves tests/e2e/screenshots/journey-*.png (test output: look at them after a run).

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { unzipSync } from 'fflate';
import type { Browser, Page } from 'playwright-core';
import type { RpcClient } from '../backend/helpers.ts';
import { tempDir } from '../helpers/temp.ts';
import {
  closeStudio,
  DEMO_MODEL,
  openPage,
  root,
  rpc,
  type Served,
  screenshot,
  skip,
  startStudio,
} from './helpers.ts';

/** 40 good rows (a pirate persona) with 3 bad lines among them, as a person's file would have. */
function pirateFile(): string {
  const lines: string[] = [];
  for (let i = 1; i <= 40; i++) {
    lines.push(
      JSON.stringify({
        prompt: `Question ${i}: where should we sail next?`,
        completion: `Arr, to island number ${i}, matey!`,
      }),
    );
    if (i === 5) lines.push('{"prompt": "a line cut off in the middle');
    if (i === 17) lines.push(JSON.stringify({ prompt: 'a row without an answer' }));
    if (i === 30) lines.push('not json at all');
  }
  return `${lines.join('\n')}\n`;
}

describe('The whole journey (reft-studio serve + Chromium, 1000×700)', { skip, timeout: 900_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let client: RpcClient;
  const files = tempDir('reft-e2e-journey-files-');
  const pageErrors: string[] = [];
  let n = 0;
  /** A screenshot of what the window shows now, numbered in the order of the journey. */
  const shot = async (name: string) => {
    n += 1;
    await screenshot(page, `journey-${String(n).padStart(2, '0')}-${name}`);
  };
  const view = () => page.getByTestId('dataset-view');
  const step = (name: string) => page.getByRole('button', { name: new RegExp(`^Step \\d: ${name}$`) });
  const next = () => page.getByRole('button', { name: 'Next', exact: true }).click();
  const runId = () => Number(/#\/runs\/(\d+)$/.exec(page.url())?.[1]);
  const until = async (what: string, fn: () => Promise<boolean>, ms = 240_000) => {
    const end = Date.now() + ms;
    while (!(await fn())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  let firstRun = 0;
  let secondRun = 0;

  before(async () => {
    // The folder shows this run's journey only.
    const shots = join(root, 'tests/e2e/screenshots');
    for (const f of existsSync(shots) ? readdirSync(shots) : [])
      if (f.startsWith('journey-')) rmSync(join(shots, f));
    ({ server, client, browser } = await startStudio(tempDir('reft-e2e-journey-')));
    page = await openPage(browser, {
      viewport: { width: 1000, height: 700 },
      acceptDownloads: true,
      timeout: 30_000,
      errors: pageErrors,
      url: server.url,
    });
  });

  after(() => closeStudio({ client, browser, server }));

  test('1. upload a dataset with bad rows and review what was left out', async () => {
    await page.getByTestId('nav-datasets').click();
    const file = join(files, 'pirate-voyages.jsonl');
    writeFileSync(file, pirateFile());
    await page.getByTestId('dataset-file').setInputFiles(file);
    await page.getByTestId('dataset-chosen').getByText('pirate-voyages.jsonl').waitFor();
    await page.getByTestId('dataset-import').getByRole('button', { name: 'Import' }).click();
    const result = page.getByTestId('import-result');
    await result.getByText(/Imported “pirate-voyages” \(40 rows/).waitFor();
    await result.getByText(/3 lines were left out/).waitFor();
    await shot('imported');
    await result.getByRole('button', { name: 'Review them' }).click();
    const table = page.getByTestId('rejected-table');
    await table.getByRole('cell', { name: 'not json at all' }).waitFor();
    assert.deepEqual(await table.locator('tbody tr td:first-child').allTextContents(), ['6', '19', '33']);
    await shot('rejected-lines');
  });

  test('1b. a CSV with its own column names: the page asks which is which', async () => {
    const file = join(files, 'more-voyages.csv');
    writeFileSync(file, 'question,answer\nWhere to?,"Tortuga, matey!"\nWho are you?,A pirate.\n');
    await page.getByTestId('dataset-file').setInputFiles(file);
    const form = page.getByTestId('dataset-import');
    await form.getByRole('button', { name: 'Import' }).click();
    // Bug: it said "map them, e.g. --map prompt=question" and the page had no way to. Choosing the
    // columns is the next step, said beside the choice, not an error.
    const cols = form.getByTestId('dataset-columns');
    const why = cols.getByText(/choose which column is the prompt and which the completion/);
    await why.waitFor();
    assert.doesNotMatch((await why.textContent()) ?? '', /--/);
    assert.equal(await form.getByRole('alert').count(), 0, 'no error shown for the next step');
    assert.equal(await cols.getByLabel('Prompt').inputValue(), 'question');
    assert.equal(await cols.getByLabel('Completion').inputValue(), 'answer');
    await cols.scrollIntoViewIfNeeded();
    await shot('csv-columns');
    await form.getByRole('button', { name: 'Import' }).click();
    await page
      .getByTestId('import-result')
      .getByText(/Imported “more-voyages” \(2 rows/)
      .waitFor();
    // Back to the dataset with the bad rows for the rest of the journey.
    await page
      .getByTestId('datasets-table')
      .locator('tr', { hasText: 'pirate-voyages' })
      .getByRole('button', { name: 'Open' })
      .click();
    await view().getByTestId('dataset-name').getByText('pirate-voyages').waitFor();
  });

  test('2. split it into train, validation and test parts', async () => {
    await view()
      .getByRole('tab', { name: /Duplicates & split/ })
      .click();
    await view().getByLabel('Train ratio').fill('0.7');
    await view().getByLabel('Validation ratio').fill('0.2');
    await view().getByLabel('Test ratio').fill('0.1');
    await view().getByRole('button', { name: 'Split', exact: true }).click();
    const parts = view().getByTestId('split-result');
    await parts.getByText(/validation/).waitFor();
    await parts.scrollIntoViewIfNeeded();
    await shot('split');
    const d = (await rpc(client, 'datasets/list')).find((x: { name: string }) => x.name === 'pirate-voyages');
    const counts = Object.fromEntries(
      d.versions
        .filter((v: { split: string | null }) => v.split)
        .map((v: { split: string; rowCount: number }) => [v.split, v.rowCount]),
    );
    assert.deepEqual(counts, { train: 28, validation: 8, test: 4 });
  });

  test('3. the wizard: a recipe, the split’s train part validated on its validation part', async () => {
    await page.getByTestId('nav-train').click();
    await page.getByRole('heading', { level: 1, name: 'Train' }).waitFor();
    await page.getByLabel('Base model').selectOption({ label: DEMO_MODEL });
    await page.locator('#train-dataset').selectOption({ label: 'pirate-voyages (40 rows)' });
    await page
      .getByLabel('Version', { exact: true })
      .selectOption({ label: 'v2 · train part of v1, seed 42 (28 rows)' });
    assert.equal(await page.getByRole('radio', { name: /^Another version/ }).isChecked(), true);
    assert.match(
      (await page.getByLabel('Validation version').locator('option:checked').textContent()) ?? '',
      /validation part of v1, seed 42 \(8 rows\)/,
    );
    await page.getByLabel('Run name (optional)').fill('pirate voice');
    await page.getByTestId('recipe-behaviour').click();
    await page.getByTestId('recipe-why').waitFor();
    await page.getByTestId('recipe-why').scrollIntoViewIfNeeded();
    await shot('wizard-recipe');
    await next();
    await page.getByTestId('layer-count').waitFor();
    await shot('wizard-intervention');
    await next();
    // Few steps for a 2-core CI; the recipe's other settings stay.
    await page.getByLabel('Max steps').fill('40');
    await page.getByLabel('Checkpoint every').fill('10');
    await page.getByLabel('Probe prompts').fill('Who are you?\nWhere is the treasure?');
    await page.getByLabel('Probe every N steps').fill('10');
    // The chosen device's line reads on its own (it ran on as "…the CPU always works. always available.").
    await page.getByTestId('field-device').getByText('CPU: always available.', { exact: true }).waitFor();
    await page.getByLabel('Probe prompts').scrollIntoViewIfNeeded();
    await shot('wizard-training');
    await next();
  });

  test('4. the intervention preview for a chosen example', async () => {
    const preview = page.getByTestId('intervention-preview');
    const strip = preview.getByTestId('preview-tokens');
    await strip.waitFor();
    const first = await strip.textContent();
    await preview.getByLabel('Example number').fill('3');
    await preview.getByLabel('Example number').press('Enter');
    await page.waitForFunction(
      (before) => document.querySelector('[data-testid="preview-tokens"]')?.textContent !== before,
      first,
    );
    // Spaces are shown as "·" so that every token is visible.
    assert.match((await strip.textContent()) ?? '', /Question·\d+/);
    assert.ok((await strip.locator('.tok.loss').count()) > 0, 'the completion carries the loss');
    // The recipe edits the last prompt token (l1: with no first tokens, pyreft ties the lists).
    assert.equal(await strip.locator('.tok.suffix, .tok.all').count(), 1);
    await preview.getByTestId('preview-iv-0').getByRole('button').click();
    await preview.scrollIntoViewIfNeeded();
    await shot('wizard-preview');
  });

  test('5. start the run and watch its chart and probe answers arrive', async () => {
    await page.getByTestId('train-start').click();
    await page.waitForFunction(() => /^#\/runs\/\d+$/.test(location.hash));
    firstRun = runId();
    const detail = page.getByTestId('run-detail');
    // Every step the page shows, from the live pushes (no reloads).
    await detail.getByTestId('run-step').waitFor({ timeout: 120_000 });
    // (No named functions inside evaluate: tsx would wrap them in a helper the page does not have.)
    await page.evaluate(() => {
      const seen = new Set<string>();
      (window as unknown as { seenSteps: Set<string> }).seenSteps = seen;
      seen.add(document.querySelector('[data-testid="run-step"]')?.textContent ?? '');
      new MutationObserver(() =>
        seen.add(document.querySelector('[data-testid="run-step"]')?.textContent ?? ''),
      ).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await detail.getByTestId('loss-chart').locator('canvas').waitFor();
    await detail.getByTestId('loss-chart').scrollIntoViewIfNeeded();
    await shot('run-training');
    await detail.getByRole('tab', { name: /Probe answers/ }).click();
    await detail
      .getByTestId('probe-timeline')
      .getByText('Before training')
      .first()
      .waitFor({ timeout: 120_000 });
    await detail.locator('[data-status="completed"]').waitFor({ timeout: 240_000 });
    const timeline = detail.getByTestId('probe-timeline');
    for (const s of ['Step 10', 'Step 20', 'Step 30', 'Step 40'])
      await timeline.getByText(s).first().waitFor();
    assert.equal(await timeline.locator('section').count(), 2, 'one row per probe prompt');
    await shot('run-probe-timeline');
    const seen = await page.evaluate(() => [...(window as unknown as { seenSteps: Set<string> }).seenSteps]);
    assert.ok(seen.length >= 3, `the step shown changed live: ${seen.join(' → ')}`);
    await detail.getByRole('tab', { name: 'Charts' }).click();
    await detail.getByText('Eval loss').first().waitFor();
    await detail.getByTestId('loss-chart').evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await shot('run-completed-charts');
    const run = await rpc(client, 'runs/get', { id: firstRun });
    assert.equal(run.name, 'pirate voice');
    assert.deepEqual(run.config.probe.prompts, ['Who are you?', 'Where is the treasure?']);
    assert.ok(run.config.evalData, 'validated on the validation part');
  });

  test('6. a second run cloned from the first, compared with it, then cancelled keeping its checkpoint', async () => {
    const detail = page.getByTestId('run-detail');
    await detail.getByRole('link', { name: 'Clone into the wizard' }).click();
    await page
      .getByTestId('clone-note')
      .getByText(/^Settings copied from “pirate voice”/)
      .waitFor();
    await step('Model & data').click();
    await page.getByLabel('Run name (optional)').fill('pirate voice, faster');
    await step('Training').click();
    await page.getByLabel('Learning rate').fill('0.02');
    await page.getByLabel('Max steps').fill('100000');
    await page.getByLabel('Checkpoint every').fill('5');
    await step('Preview & start').click();
    await page.getByTestId('train-start').click();
    await page.waitForFunction((first) => {
      const m = /^#\/runs\/(\d+)$/.exec(location.hash);
      return m !== null && Number(m[1]) !== first;
    }, firstRun);
    secondRun = runId();
    await detail.locator('[data-status="running"]').waitFor({ timeout: 120_000 });
    await until('a checkpoint of the second run', async () => {
      const r = await rpc(client, 'runs/get', { id: secondRun });
      return (r.checkpoints?.length ?? 0) > 0 && (r.lastStep ?? 0) >= 10;
    });

    // Compare while it trains.
    await page.getByTestId('nav-runs').click();
    await page.getByLabel('Compare pirate voice', { exact: true }).check();
    await page.getByLabel('Compare pirate voice, faster').check();
    await page.getByTestId('compare-runs').click();
    const cmp = page.getByTestId('run-compare');
    await cmp.getByText('Comparing 2 runs').waitFor();
    await cmp.getByTestId('loss-chart').locator('canvas').waitFor();
    await cmp.getByTestId('config-compare').getByRole('rowheader', { name: 'Learning rate' }).waitFor();
    await shot('compare');
    await cmp.getByTestId('config-compare').scrollIntoViewIfNeeded();
    await shot('compare-settings');

    // Cancel it, keeping the last checkpoint as an adapter.
    await page.keyboard.press('Escape');
    // Escape goes through the hash router: wait for the comparison to close before clicking.
    await cmp.waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'pirate voice, faster', exact: true }).click();
    await detail.getByRole('button', { name: 'Cancel run…' }).click();
    const dialog = page.getByTestId('cancel-dialog');
    await dialog.getByText('Keep the last checkpoint as an adapter').waitFor();
    assert.equal(await dialog.getByRole('checkbox').isChecked(), true);
    await shot('cancel-dialog');
    await dialog.getByRole('button', { name: 'Cancel run' }).click();
    await detail.locator('[data-status="cancelled"]').waitFor();
    await detail
      .getByTestId('run-story')
      .getByText(/^Cancelled by you at step \d+/)
      .waitFor();
    await detail.getByRole('link', { name: /in Adapters/ }).waitFor({ timeout: 60_000 });
    await detail
      .getByTestId('run-story')
      .getByText(/is kept as an adapter\.$/)
      .waitFor();
    // Bug: the page still offered to keep the checkpoint it had just kept.
    assert.equal(await detail.getByRole('button', { name: /^Keep step \d+ as an adapter$/ }).count(), 0);
    await shot('cancelled');
  });

  test('7. both adapters are in the library', async () => {
    await page.getByTestId('nav-adapters').click();
    const table = page.getByTestId('adapters-table');
    await table.getByText('pirate voice', { exact: true }).waitFor();
    await table.getByText(/^pirate voice, faster — step \d+ of 100000$/).waitFor();
    await shot('adapters');
  });

  test('8. chat with both composed at different strengths, next to the base model', async () => {
    await page.getByTestId('nav-playground').click();
    await page.getByLabel('Model', { exact: true }).selectOption({ label: DEMO_MODEL });
    await page.getByLabel('System prompt').fill('You are a pirate.');
    await page.getByRole('checkbox', { name: 'pirate voice', exact: true }).check();
    await page.getByRole('checkbox', { name: /^pirate voice, faster — step/ }).check();
    // A long adapter name wraps beside a box of the same size as a short one's (it was squeezed).
    const boxes = await page
      .getByRole('checkbox', { name: /^pirate voice/ })
      .evaluateAll((els) => els.map((e) => Math.round(e.getBoundingClientRect().width)));
    assert.equal(new Set(boxes).size, 1, `checkbox widths ${boxes.join(', ')}`);
    await page.getByLabel('Strength of pirate voice', { exact: true }).fill('1.5');
    await page.getByLabel(/^Strength of pirate voice, faster/).fill('0.5');
    await page.getByLabel('Base model side by side').check();
    await page.getByLabel('Seed').fill('7');
    await page.getByLabel('Max new tokens').fill('12');
    await page.getByLabel('Message', { exact: true }).fill('Ahoy! Who are you?');
    await page.getByLabel('Message', { exact: true }).press('Control+Enter');
    for (const side of ['base', 'adapted'])
      await page.waitForFunction(
        (s) => {
          const metas = document.querySelectorAll(`[data-testid="chat-${s}"] [data-testid="reply-meta"]`);
          // Waiting, the meta says 'generating…' or what loading the model says, ending in '…'.
          return metas.length === 1 && !/…/.test(metas[0]?.textContent ?? '');
        },
        side,
        { timeout: 120_000 },
      );
    await page
      .getByTestId('chat-adapted')
      .getByRole('heading', {
        name: /^With pirate voice ×1\.50 \+ pirate voice, faster — step \d+ of 100000 ×0\.50$/,
      })
      .waitFor();
    assert.equal(await page.getByRole('alert').count(), 0);
    await page.getByRole('heading', { level: 1, name: 'Playground' }).scrollIntoViewIfNeeded();
    await shot('playground');
  });

  test('9. test the first adapter on the split’s test part', async () => {
    await page.getByTestId('nav-adapters').click();
    const row = page
      .getByTestId('adapters-table')
      .locator('tr', { has: page.getByText('pirate voice', { exact: true }) });
    await row.getByRole('button', { name: 'Details' }).click();
    const detail = page.getByTestId('adapter-detail');
    // The held-out test part is offered first: the rows the adapter never saw.
    await page.waitForFunction(() =>
      /test part of v1, seed \d+ \(4 rows\)/.test(
        (document.querySelector('#eval-version') as HTMLSelectElement | null)?.selectedOptions[0]
          ?.textContent ?? '',
      ),
    );
    await detail.getByRole('button', { name: 'Run evaluation' }).click();
    const table = detail.getByTestId('evaluations');
    await table.getByText('completed').waitFor({ timeout: 120_000 });
    const cells = table.locator('tbody tr td'); // Kind, Status, Device, Examples, Metrics, When
    assert.match((await cells.nth(2).textContent()) ?? '', /^\s*cpu/);
    assert.match((await cells.nth(4).textContent()) ?? '', /loss/i);
    await table.scrollIntoViewIfNeeded();
    await shot('evaluated');
  });

  test('10. export it as a downloaded zip and as a scale-out bundle', async () => {
    const exp = page.getByTestId('adapter-export');
    await exp.scrollIntoViewIfNeeded();
    const downloading = page.waitForEvent('download');
    await exp.getByRole('button', { name: 'Download .zip' }).click();
    const zip = await downloading;
    assert.equal(zip.suggestedFilename(), 'pirate-voice-pyreft.zip');
    const zipPath = join(files, zip.suggestedFilename());
    await zip.saveAs(zipPath);
    const names = Object.keys(unzipSync(readFileSync(zipPath)));
    assert.ok(names.includes('pirate-voice-pyreft/config.json'), names.join(', '));
    await exp.getByTestId('export-result').waitFor();
    await exp.getByTestId('export-result').scrollIntoViewIfNeeded();
    await shot('export-zip');

    await exp.getByLabel('Scale-out bundle').check();
    const bundling = page.waitForEvent('download');
    await exp.getByRole('button', { name: 'Download .zip' }).click();
    const bundle = await bundling;
    const bundlePath = join(files, bundle.suggestedFilename());
    await bundle.saveAs(bundlePath);
    const inBundle = Object.keys(unzipSync(readFileSync(bundlePath))).map((f) =>
      f.split('/').slice(1).join('/'),
    );
    // The run validated on the split's validation part: its rows travel apart, to score the result.
    assert.deepEqual(inBundle.sort(), [
      'README.md',
      'config.json',
      'data.jsonl',
      'heldout.jsonl',
      'train.py',
    ]);
    await exp
      .getByTestId('export-result')
      .getByText(/torchrun/)
      .waitFor();
    await exp.getByTestId('export-result').scrollIntoViewIfNeeded();
    await shot('export-bundle');
  });

  test('no page errors were thrown', () => {
    assert.deepEqual(pageErrors, []);
  });
});
