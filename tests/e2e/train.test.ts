// End-to-end: the Train wizard against the real `reft-studio serve` in Chromium. A recipe fills every
// field and says why; layers are chosen on the model's diagram and positions with a control; an
// option beyond the model is refused inline in the studio's words (not as a CLI flag); the draft
// survives a visit to another page; the intervention preview shows the tokens training sees; a failed
// estimate does not leave the old numbers; a run starts with a validation split and probe prompts;
// a probe prompt the model cannot read is refused by the estimate, the preview and Start alike;
// Measure speed while another job holds the device says the device is busy, not that it trains;
// Measure speed can be stopped, and leaving the page stops it.
// Each step saves a screenshot under tests/e2e/screenshots/train-*.png.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { type RpcClient, waitFor } from '../backend/helpers.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { sparseLlama } from '../helpers/models.ts';
import { tempDir } from '../helpers/temp.ts';
import {
  closeStudio,
  connected,
  DEMO_DATASET,
  DEMO_MODEL,
  holdRpcMethod,
  listenToAnnouncer,
  openPage,
  root,
  rpc,
  type Served,
  screenshot,
  skip,
  startStudio,
  textWhen,
} from './helpers.ts';

const BROKEN_MODEL = 'Moved away';
const BIG_MODEL = 'Too big for this computer';
const GPT2_MODEL = 'GPT-2 fixture';
const ONE_LAYER_MODEL = 'One layer';

describe('Train wizard (reft-studio serve + Chromium)', { skip, timeout: 600_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let client: RpcClient;
  let datasetId: number;
  const pageErrors: string[] = [];

  const next = () => page.getByRole('button', { name: 'Next', exact: true }).click();
  const step = (name: string) => page.getByRole('button', { name: new RegExp(`^Step \\d: ${name}$`) });
  const field = (key: string) => page.getByTestId(`field-${key}`);
  const reviewValue = (label: string) =>
    page
      .getByTestId('train-review')
      .evaluate(
        (dl, l) =>
          Array.from(dl.querySelectorAll('dt')).find((dt) => dt.textContent === l)?.nextElementSibling
            ?.textContent ?? null,
        label,
      );

  const modelIdOf = async (name: string): Promise<number> =>
    (await rpc(client, 'models/list')).find((m: { name: string }) => m.name === name).id;
  /**
   * Waits, with no timeout, for the backend's own answer on `name`'s shape ('runs/check': what the
   * layer diagram and the model's limits show). The page asked before, so its answer has come too:
   * the page's wait that follows times the page, not a loaded machine's backend.
   */
  const shapeAnswered = async (name: string): Promise<void> => {
    await rpc(client, 'runs/check', { modelId: await modelIdOf(name), options: {} });
  };

  /** A fresh draft on the demo model and dataset, at step 1. */
  async function freshDraft(): Promise<void> {
    await page.getByTestId('nav-train').click();
    await page.getByRole('button', { name: 'Start over' }).click();
    await page.getByLabel('Base model').selectOption({ label: DEMO_MODEL });
    await page.locator('#train-dataset').selectOption({ label: `${DEMO_DATASET} (12 rows)` });
  }

  before(async () => {
    const dataDir = tempDir('reft-e2e-train-');
    ({ server, client, browser } = await startStudio(dataDir));
    datasetId = (await rpc(client, 'datasets/list')).find(
      (d: { name: string }) => d.name === DEMO_DATASET,
    ).id;
    // A model whose folder disappeared after it was added: the backend cannot plan runs on it.
    const gone = join(dataDir, 'gone-model');
    cpSync(join(root, 'resources/demo/model'), gone, { recursive: true });
    await rpc(client, 'models/add', { path: gone, name: BROKEN_MODEL });
    rmSync(gone, { recursive: true });
    // The engine processes behind the wizard's preview and estimate start here, waited for with no
    // timeout: on a busy machine their start takes seconds, which the page's waits below would
    // otherwise race (their timeout is for the page, not for a process's start).
    const modelId = await modelIdOf(DEMO_MODEL);
    await Promise.all([
      rpc(client, 'runs/preview', { modelId, datasetId }),
      rpc(client, 'runs/estimate', { modelId, datasetId }),
    ]);
    page = await openPage(browser, {
      viewport: { width: 1280, height: 900 },
      timeout: 20_000,
      errors: pageErrors,
      url: server.url,
    });
  });

  after(() => closeStudio({ client, browser, server }));

  test('a recipe fills every field for the chosen model and says why', async () => {
    await freshDraft();
    await page.getByTestId('recipe-behaviour').click();
    await page
      .getByTestId('recipe-why')
      .getByText(/pyreft’s README/)
      .waitFor();
    await screenshot(page, 'train-1-recipe');
    await next();
    // Layer 8 of 32 in pyreft's demo is layer 1 of the demo model's 4; the last prompt token only.
    await shapeAnswered(DEMO_MODEL);
    assert.equal(await textWhen(page.getByTestId('layer-count'), '1 of 4 layers'), '1 of 4 layers');
    assert.equal(await page.getByTestId('layer-1').getAttribute('aria-pressed'), 'true');
    assert.equal(await page.getByTestId('positions-first').inputValue(), '0');
    assert.equal(await page.getByTestId('positions-last').inputValue(), '1');
    assert.equal(await page.getByLabel('Rank').inputValue(), '4');
    await screenshot(page, 'train-2-intervention');
    await next();
    assert.equal(await page.getByLabel('Epochs').inputValue(), '100');
    assert.equal(await page.getByLabel('Batch size').inputValue(), '10');
    assert.equal(await page.getByLabel('Learning rate').inputValue(), '0.004');
    // Each field explains itself in one line and shows the recipe's reason.
    await field('epochs').getByText('Passes over the whole dataset').waitFor();
    await field('epochs').getByText('Recipe: many passes over a tiny set.').waitFor();
    // The device: the CPU always works; a provider this system's ONNX Runtime lacks (DirectML off
    // Windows, Core ML off macOS) is offered disabled, with why, once the devices probe answers —
    // seconds, more on a busy machine: waited for as the backend's own answer (the page's comes with
    // it), not against the page's timeout.
    const cpu = page.getByLabel('Device').locator('option[value="cpu"]');
    assert.equal(await cpu.isDisabled(), false);
    await rpc(client, 'system/devices');
    const absent = process.platform === 'win32' ? 'coreml' : 'dml';
    const other = page.getByLabel('Device').locator(`option[value="${absent}"]`);
    await page.waitForFunction(
      (v) => (document.querySelector(`option[value="${v}"]`) as HTMLOptionElement | null)?.disabled,
      absent,
    );
    assert.match((await other.getAttribute('title')) ?? '', /^ONNX Runtime has no .* provider here/);
    await screenshot(page, 'train-3-training');
  });

  test('the CPU is offered before the devices probe answers; a GPU chosen meanwhile stays chosen', async () => {
    // A page of its own whose 'system/devices' requests are held back, as a busy machine's probe is
    // (16 s seen): before, the Device field offered every GPU as choosable until the probe answered.
    const own = await openPage(browser!, { viewport: { width: 1280, height: 900 }, errors: pageErrors });
    const { held, release } = await holdRpcMethod(own, 'system/devices');
    try {
      await own.goto(`${server!.url}#/train`);
      await connected(own);
      await own.getByLabel('Base model').selectOption({ label: DEMO_MODEL });
      await own.locator('#train-dataset').selectOption({ label: `${DEMO_DATASET} (12 rows)` });
      await own.getByRole('button', { name: /^Step \d: Training$/ }).click();
      const device = own.getByLabel('Device');
      const offered = () =>
        device.locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
      const aside = own.getByTestId('aside-device');
      await aside.getByText('Checking which GPUs run here… the CPU can be chosen now.').waitFor();
      assert.ok(held.length > 0, 'the page asked for the devices');
      assert.deepEqual(await offered(), ['cpu', 'auto']);
      assert.equal(await device.inputValue(), 'cpu');
      await device.selectOption('auto');
      await device.selectOption('cpu');
      // The wizard goes on: its review and Start, on the CPU, while the probe has not answered.
      await own.getByRole('button', { name: 'Next', exact: true }).click();
      await own.getByTestId('train-start').waitFor();
      assert.equal(await own.getByTestId('train-start').isDisabled(), false);

      // A draft kept across a reload that names a GPU (as a cloned run does): shown as being checked,
      // not as the CPU. A provider this system's ONNX Runtime lacks, so its answer is the same anywhere.
      const absent = process.platform === 'win32' ? 'coreml' : 'dml';
      await own.evaluate((d) => {
        const draft = JSON.parse(sessionStorage.getItem('reft-studio.train-draft') ?? '{}');
        sessionStorage.setItem(
          'reft-studio.train-draft',
          JSON.stringify({ ...draft, step: 2, values: { ...draft.values, device: d } }),
        );
      }, absent);
      held.length = 0;
      await own.reload();
      await connected(own);
      const said = await listenToAnnouncer(own);
      await aside.getByText(/stays chosen meanwhile\.$/).waitFor();
      assert.deepEqual(await offered(), ['cpu', 'auto', absent]);
      assert.equal(await device.inputValue(), absent);
      assert.match((await device.locator(`option[value="${absent}"]`).textContent()) ?? '', /\(checking…\)$/);

      // The probe answers: every choice is listed, and the GPU chosen is still chosen, said to be unable to run.
      release();
      const cannot =
        /^(DirectML|Core ML) cannot run here \(ONNX Runtime has no .* provider here .*\): the run would train on the CPU\.$/;
      assert.match(await textWhen(aside, cannot), cannot);
      assert.equal(await device.inputValue(), absent);
      assert.equal((await offered()).length, 6);
      await waitFor(
        'the unavailable GPU to be said',
        async () => (await said()).some((t) => cannot.test(t)),
        5_000,
      );
    } finally {
      await own.context().close();
    }
  });

  test('layers on the model’s diagram, positions with first/last counts, tied or untied', async () => {
    await step('Intervention').click();
    await page.getByRole('button', { name: 'All', exact: true }).click();
    assert.equal(await textWhen(page.getByTestId('layer-count'), '4 of 4 layers'), '4 of 4 layers');
    await page.getByTestId('layer-0').click();
    assert.equal(await textWhen(page.getByTestId('layer-count'), '3 of 4 layers'), '3 of 4 layers');
    await page.getByTestId('positions-first').fill('2');
    await page.getByTestId('positions-last').fill('2');
    await page.getByRole('radio', { name: /^Tied/ }).check();
    await page.getByText('1 intervention per layer').waitFor();
    await page.getByRole('radio', { name: /^Untied/ }).check();
    await page.getByText('2 interventions per layer').waitFor();
    await step('Preview & start').click();
    assert.equal(await reviewValue('Layers'), '1;2;3');
    assert.equal(await reviewValue('Positions'), 'f2+l2');
    assert.equal(await reviewValue('Share weights (tied)'), 'no');
    // Numbers in words, as the run's Configuration tab shows them: Max steps 0 read "0".
    assert.match((await reviewValue('Max steps')) ?? '', /^no limit: \d+ epochs?(\(default\))?$/);
    assert.match((await reviewValue('Max length')) ?? '', /^\d+ tokens/);
  });

  test('an option beyond the model is refused inline, in the studio’s words', async () => {
    await step('Intervention').click();
    await page.getByLabel('Rank').fill('65');
    const issue = page.getByTestId('issue-rank');
    // The demo model's hidden size is 64: the limit is the model's, checked by the trainer's rule.
    const rankIssue = "Rank must be at most the model's hidden size, 64 (got 65)";
    assert.equal(await textWhen(issue, rankIssue), rankIssue);
    assert.equal(await page.getByRole('button', { name: 'Next', exact: true }).isDisabled(), true);
    const problems = (await page.getByTestId('step-problems').textContent()) ?? '';
    assert.doesNotMatch(problems, /--/, 'no CLI flags in the studio');
    await screenshot(page, 'train-2b-refused-rank', false);
    await page.getByLabel('Rank').fill('8');
    assert.equal(await issue.count(), 0);
  });

  test('no position, or a number field that is not a number, is refused in words', async () => {
    await step('Intervention').click();
    await page.getByTestId('positions-first').fill('0');
    await page.getByTestId('positions-last').fill('0');
    const noToken = 'Positions: choose at least one first or last token.';
    assert.equal(await textWhen(page.getByTestId('issue-positions'), noToken), noToken);
    // Said once, in the studio's words: not the engine's `positions "f0"` text.
    assert.doesNotMatch((await page.getByTestId('step-problems').textContent()) ?? '', /f0/);
    assert.equal(await page.getByRole('button', { name: 'Next', exact: true }).isDisabled(), true);
    await page.getByTestId('positions-first').fill('2');
    await page.getByTestId('positions-last').fill('2');
    await page.getByTestId('issue-positions').waitFor({ state: 'detached' });
    await page.getByTestId('positions-first').fill('');
    await page.getByTestId('positions-first').pressSequentially('--2');
    const notNumber = 'Positions: not a number.';
    assert.equal(await textWhen(page.getByTestId('issue-positions'), notNumber), notNumber);
    await page.getByTestId('positions-first').fill('2');
    await page.getByTestId('issue-positions').waitFor({ state: 'detached' });

    // Typed text a number input cannot read ("--3") reads as blank: it must not pass as the default.
    await step('Training').click();
    const epochs = page.getByLabel('Epochs');
    await epochs.fill('');
    await epochs.pressSequentially('--3');
    const unreadable = 'Epochs: not a number.';
    assert.equal(await textWhen(page.getByTestId('issue-epochs'), unreadable), unreadable);
    assert.equal(await page.getByRole('button', { name: 'Next', exact: true }).isDisabled(), true);
    await screenshot(page, 'train-3b-not-a-number', false);
    await epochs.fill('');
    await page.getByTestId('issue-epochs').waitFor({ state: 'detached' });
  });

  test('the held-out percent is checked in its own terms: 1 to 90, a number', async () => {
    await step('Model & data').click();
    await page.getByRole('radio', { name: /^Hold out/ }).check();
    const percent = page.getByLabel('Percent held out');
    const want = 'Hold out: a percentage from 1 to 90.';
    // 0 would train without validation although "Hold out" is chosen; -5 was shown as "got -0.05".
    for (const typed of ['0', '-5', '95', '--3', '']) {
      await percent.fill('');
      if (typed) await percent.pressSequentially(typed);
      const said = await textWhen(page.getByTestId('step-problems'), want);
      assert.equal(said, want, `typed ${JSON.stringify(typed)}`);
      assert.equal(await page.getByRole('button', { name: 'Next', exact: true }).isDisabled(), true);
    }
    await percent.fill('20');
    await page.getByTestId('step-problems').waitFor({ state: 'detached' });
    // A fraction of a percent is kept as typed: 12.5 was shown as 13 while the run held out 12.5%.
    await percent.fill('');
    await percent.pressSequentially('12.5');
    await step('Preview & start').click();
    assert.equal(await reviewValue('Validation'), '12.5% of the rows held out');
    await step('Model & data').click();
    assert.equal(await percent.inputValue(), '12.5');
    await page.getByRole('radio', { name: /^None/ }).check();
  });

  test('a run name or a probe prompt runs/start would refuse is refused in the form, in words', async () => {
    // Before, the form let them through and the estimate, the preview and Start each answered with
    // the RPC schema's words ("runs/start: invalid params: name: …").
    await step('Model & data').click();
    await page.getByLabel('Run name (optional)').fill('report\u202Etxt.exe');
    const badName =
      'Name: a run name cannot hold a text-direction character (U+202E), which can make it read as another.';
    assert.equal(await textWhen(page.getByTestId('step-problems'), badName), badName);
    assert.equal(await page.getByRole('button', { name: 'Next', exact: true }).isDisabled(), true);
    await page.getByLabel('Run name (optional)').fill('');
    await step('Training').click();
    await page.getByLabel('Probe prompts').fill(`Who are you?\n${'x'.repeat(4001)}`);
    const badProbe = 'Probe prompts: prompt 2 has 4001 characters, more than the 4000 a prompt may have.';
    assert.equal(await textWhen(page.getByTestId('step-problems'), badProbe), badProbe);
    assert.deepEqual(await page.getByRole('alert').allTextContents(), [], 'no RPC refusal shown');
    await page.getByLabel('Probe prompts').fill('');
    await page.getByTestId('step-problems').waitFor({ state: 'detached' });
  });

  test('the draft survives a visit to another page', async () => {
    await step('Model & data').click();
    await page.getByLabel('Run name (optional)').fill('kept draft');
    await step('Training').click();
    await page.getByLabel('Epochs').fill('7');
    await page.getByTestId('nav-runs').click();
    await page.getByRole('heading', { level: 1, name: 'Runs', exact: true }).waitFor();
    await page.getByTestId('nav-train').click();
    // Back on the same step, with the same values.
    assert.equal(await page.getByLabel('Epochs').inputValue(), '7');
    await step('Model & data').click();
    assert.equal(await page.getByLabel('Run name (optional)').inputValue(), 'kept draft');
    assert.equal(await page.getByLabel('Rank', { exact: true }).count(), 0);
    await step('Intervention').click();
    assert.equal(await page.getByLabel('Rank').inputValue(), '8');
    // And a reload of the tab (F5, Ctrl+R): before, it came back to an empty wizard.
    await page.reload();
    await connected(page);
    assert.equal(await step('Intervention').getAttribute('aria-current'), 'step');
    assert.equal(await page.getByLabel('Rank').inputValue(), '8');
    await shapeAnswered(DEMO_MODEL);
    assert.equal(await textWhen(page.getByTestId('layer-count'), '3 of 4 layers'), '3 of 4 layers');
    await step('Training').click();
    assert.equal(await page.getByLabel('Epochs').inputValue(), '7');
    await step('Model & data').click();
    assert.equal(await page.getByLabel('Run name (optional)').inputValue(), 'kept draft');
    assert.equal(
      await page.getByLabel('Base model').evaluate((s: HTMLSelectElement) => s.selectedOptions[0]?.text),
      DEMO_MODEL,
    );
  });

  test('the intervention preview: tokens after the template, the loss, what each intervention edits', async () => {
    await step('Preview & start').click();
    const preview = page.getByTestId('intervention-preview');
    await preview.getByTestId('preview-tokens').waitFor();
    const summary = (await preview.getByTestId('preview-summary').textContent()) ?? '';
    assert.match(summary, /untied/);
    // Layers 1;2;3 untied at f2+l2: six interventions, the prefix ones on tokens 0 and 1.
    assert.equal(await preview.locator('tbody tr').count(), 6);
    assert.equal(await preview.getByTestId('preview-iv-0').locator('td').nth(2).textContent(), '0, 1');
    const strip = preview.getByTestId('preview-tokens');
    const n = await strip.locator('.tok').count();
    assert.ok(n > 4, `${n} tokens`);
    assert.equal(await strip.locator('.tok.prefix').count(), 2);
    assert.equal(await strip.locator('.tok.suffix').count(), 2);
    assert.ok((await strip.locator('.tok.loss').count()) > 0, 'the completion carries the loss');
    // Choosing one intervention highlights only its tokens.
    await preview.getByTestId('preview-iv-3').getByRole('button').click();
    assert.equal(await strip.locator('.tok.prefix').count(), 0);
    assert.equal(await strip.locator('.tok.suffix').count(), 2);
    await screenshot(page, 'train-4-preview');
    // Another example.
    await preview.getByRole('button', { name: 'Next ›' }).click();
    await page.waitForFunction(
      () =>
        (document.querySelector('[aria-label="Example number"]') as HTMLInputElement | null)?.value === '2',
    );
    // A number typed that is no example: before, "2.5" was sent as example 1.5, refused by the
    // schema, and the preview was gone with its pager (nothing on the page brought it back).
    const example = preview.getByLabel('Example number');
    await example.fill('3.5');
    await example.press('Enter');
    assert.equal(await example.inputValue(), '3');
    await page.waitForFunction(
      () =>
        document.querySelector('[data-testid="preview-tokens"] .tok') &&
        !document.querySelector('[role="alert"]'),
    );
    await example.fill('99');
    await example.press('Enter');
    assert.equal(await example.inputValue(), '12', 'the last example');
    assert.deepEqual(await preview.getByRole('alert').allTextContents(), []);
  });

  test('a failed estimate clears the old numbers', async () => {
    await step('Model & data').click();
    const est = page.getByTestId('train-estimate');
    await est.getByTestId('est-params').waitFor();
    await page.getByLabel('Base model').selectOption({ label: BROKEN_MODEL });
    await est.getByRole('alert').waitFor();
    assert.match((await est.getByRole('alert').textContent()) ?? '', /gone/);
    assert.equal(await est.getByTestId('est-params').count(), 0, 'no numbers of another model');
    await est.scrollIntoViewIfNeeded();
    await screenshot(page, 'train-5-failed-estimate', false);
    await page.getByLabel('Base model').selectOption({ label: DEMO_MODEL });
    await est.getByTestId('est-params').waitFor();
    assert.equal(await est.getByRole('alert').count(), 0);
  });

  test('a model and a dataset removed since the draft chose them are chosen again', async () => {
    const file = join(tempDir('reft-e2e-train-data-'), 'short-lived.jsonl');
    writeFileSync(
      file,
      '{"prompt":"Who are you?","completion":"A pirate."}\n{"prompt":"Where?","completion":"At sea."}\n',
    );
    const ds = await rpc(client, 'datasets/import', { path: file });
    const model = await rpc(client, 'models/add', {
      path: join(root, 'tests/fixtures/golden/models/gpt2'),
      name: 'Short-lived',
    });
    // The lists are read when the page opens.
    await page.getByTestId('nav-runs').click();
    await page.getByTestId('nav-train').click();
    await step('Model & data').click();
    await page.getByLabel('Base model').selectOption({ label: 'Short-lived' });
    await page.locator('#train-dataset').selectOption({ label: 'short-lived (2 rows)' });
    await page.getByTestId('nav-runs').click();
    await page.getByRole('heading', { level: 1, name: 'Runs', exact: true }).waitFor();
    await rpc(client, 'models/remove', { id: model.id });
    await rpc(client, 'datasets/remove', { id: ds.dataset.id });
    await page.getByTestId('nav-train').click();
    // Not blank selects with "no model with id …": the model is asked for again (two are left), the
    // dataset is the only one left.
    await page.getByTestId('step-problems').getByText('Choose a base model.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Next', exact: true }).isDisabled(), true);
    assert.equal(
      await page.locator('#train-dataset').evaluate((s: HTMLSelectElement) => s.selectedOptions[0]?.text),
      `${DEMO_DATASET} (12 rows)`,
    );
    assert.deepEqual(await page.getByRole('alert').allTextContents(), []);
    await page.getByLabel('Base model').selectOption({ label: DEMO_MODEL });
    await page.getByTestId('train-estimate').getByTestId('est-params').waitFor();
  });

  test('starts a run on a split’s train part, validated on its validation part, with probe prompts', async () => {
    const split = await rpc(client, 'datasets/split', { datasetId, seed: 3 });
    // Another split of the same version, newer: its validation part holds rows of the first's train part.
    await rpc(client, 'datasets/split', { datasetId, seed: 5 });
    // The dataset list is read when the page opens.
    await page.getByTestId('nav-runs').click();
    await page.getByTestId('nav-train').click();
    await step('Model & data').click();
    const version = page.getByLabel('Version', { exact: true });
    const validateOn = page.getByRole('radio', { name: /^Another version/ });
    await version.selectOption({ value: String(split.train.id) });
    // The validation part cut with it (not the newer split's) is chosen to validate on.
    assert.equal(await validateOn.isChecked(), true);
    assert.equal(await page.getByLabel('Validation version').inputValue(), String(split.validation.id));
    // Back to the full version, the part chosen with the train part goes: its rows are training rows now.
    await version.selectOption({ value: String(split.train.parentVersionId) });
    assert.equal(await page.getByRole('radio', { name: /^None/ }).isChecked(), true);
    await version.selectOption({ value: String(split.train.id) });
    assert.equal(await page.getByLabel('Validation version').inputValue(), String(split.validation.id));
    await page.getByLabel('Run name (optional)').fill('wizard e2e');
    await step('Training').click();
    await page.getByLabel('Epochs').fill('1');
    await page.getByLabel('Max steps').fill('2');
    await page.getByLabel('Probe prompts').fill('Who are you?\nWhere is the treasure?');
    await page.getByLabel('Probe every N steps').fill('1');
    await next();
    assert.equal(await reviewValue('Probe prompts'), '2, every 1 step');
    await screenshot(page, 'train-6-review');
    await page.getByTestId('train-start').click();
    await page.waitForFunction(
      () => /^#\/runs\/\d+$/.test(location.hash) || document.querySelector('[role="alert"]') !== null,
    );
    const alerts = await page.getByRole('alert').allTextContents();
    assert.deepEqual(alerts, []);
    const runId = Number(/#\/runs\/(\d+)$/.exec(page.url())?.[1]);
    const run = await rpc(client, 'runs/get', { id: runId });
    assert.equal(run.name, 'wizard e2e');
    assert.equal(run.datasetVersionId, split.train.id);
    assert.equal(run.config.evalData, split.validation.filePath);
    assert.deepEqual(run.config.probe.prompts, ['Who are you?', 'Where is the treasure?']);
    assert.deepEqual(run.config.layers, [1, 2, 3]);
    assert.equal(run.config.rank, 8);
    await page.getByTestId('run-detail').waitFor();
    await screenshot(page, 'train-7-started');
  });

  test('an empty run name says what the run is called instead, and the run is called that', async () => {
    // Bug: with the pirate dataset chosen the empty field showed "Demo: pirate persona adapter", as a
    // default would, but the run was called "Run 7" and its adapter "Run 7 (loreft, rank 4)".
    await freshDraft();
    const name = page.getByLabel('Run name (optional)');
    assert.equal(await name.inputValue(), '');
    const placeholder = (await name.getAttribute('placeholder')) ?? '';
    assert.match(placeholder, /^e\.g\. /, 'the grey text is an example, not a name the run gets');
    const help = (await page.locator('#train-name-help').textContent()) ?? '';
    assert.match(help, /left empty, by the run’s number \(“Run \d+”\)/);
    await step('Training').click();
    await page.getByLabel('Max steps').fill('1');
    await step('Preview & start').click();
    await page.getByTestId('train-start').click();
    await page.waitForFunction(() => /^#\/runs\/\d+$/.test(location.hash));
    const runId = Number(/#\/runs\/(\d+)$/.exec(page.url())?.[1]);
    assert.equal(await textWhen(page.locator('#run-title'), `Run ${runId}`), `Run ${runId}`);
  });

  test('every step fits a 1000×700 window without sideways scrolling', async () => {
    await page.setViewportSize({ width: 1000, height: 700 });
    try {
      await page.getByTestId('nav-train').click();
      for (const [i, name] of ['Model & data', 'Intervention', 'Training', 'Preview & start'].entries()) {
        await step(name).click();
        const overflow = await page.evaluate(() =>
          Array.from(document.querySelectorAll('main, main *')).some(
            (el) =>
              el.scrollWidth > el.clientWidth + 1 &&
              getComputedStyle(el).overflowX === 'visible' &&
              el.clientWidth > 0,
          ),
        );
        assert.equal(overflow, false, `step ${i + 1} overflows sideways`);
      }
      await screenshot(page, 'train-8-small-window', false);
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });

  // Starts over (freshDraft): after the tests above, which build on the recipe's draft.
  test('keep the best and early stopping: disabled with why until the run holds rows out', async () => {
    await freshDraft();
    await step('Training').click();
    const keep = page.getByLabel('Keep the best');
    const patience = page.getByLabel('Stop without improvement');
    const why =
      'Needs held-out data: under Validation (Model & data), hold out rows or choose another version.';
    assert.equal(await keep.isDisabled(), true);
    assert.equal(await patience.isDisabled(), true);
    assert.equal(await textWhen(page.getByTestId('needs-keepBest'), why), why);
    assert.equal(await textWhen(page.getByTestId('needs-earlyStoppingPatience'), why), why);
    await screenshot(page, 'train-3c-keep-best-disabled', false);

    await step('Model & data').click();
    await page.getByRole('radio', { name: /^Hold out/ }).check();
    await step('Training').click();
    await keep.check();
    await patience.fill('3');
    assert.equal(await page.getByTestId('needs-keepBest').count(), 0);
    await step('Preview & start').click();
    assert.equal(await reviewValue('Keep the best'), 'yes');
    assert.equal(await reviewValue('Stop without improvement'), 'after 3 evaluations without improvement');

    // Set, then no held-out rows: refused in words, and still there to turn off.
    await step('Model & data').click();
    await page.getByRole('radio', { name: /^None/ }).check();
    await step('Training').click();
    const refused =
      'Keep the best needs held-out data to measure the loss on: under Validation (Model & data), hold out rows or choose another version';
    assert.equal(await textWhen(page.getByTestId('issue-keepBest'), refused), refused);
    assert.equal(await page.getByRole('button', { name: 'Next', exact: true }).isDisabled(), true);
    await keep.uncheck();
    await patience.fill('');
    await page.getByTestId('issue-keepBest').waitFor({ state: 'detached' });
    assert.equal(await keep.isDisabled(), true);
  });

  test('a probe prompt too long for the model is refused by the estimate, the preview and Start', async () => {
    // The estimate and the preview once answered as if all was well, and Start's refusal (field
    // probe.prompts.0) sent the wizard to its first step, where it stayed whatever the prompts became.
    await freshDraft();
    await step('Training').click();
    const tooLong = /^the probe prompt: the prompt has \d+ tokens; the model takes at most 255$/;
    await page
      .getByLabel('Probe prompts')
      .fill('one two three four five six seven eight nine ten '.repeat(60));
    await page.getByTestId('train-estimate').getByText(tooLong).waitFor();
    await next();
    await page.getByText(/^Could not preview: the probe prompt: the prompt has \d+ tokens/).waitFor();
    await page.getByTestId('train-start').click();
    // Start's refusal is shown beside the probe prompts, on their step, until they change.
    const probe = page.getByRole('group', { name: 'Probe prompts' });
    await probe.getByText(tooLong).waitFor();
    assert.equal(await step('Training').getAttribute('aria-current'), 'step');
    await page.getByLabel('Probe prompts').fill('Who are you?');
    await page.getByTestId('train-estimate').getByTestId('est-params').waitFor();
    assert.equal(await probe.getByText(tooLong).count(), 0);
    assert.deepEqual(await page.getByTestId('step-problems').count(), 0);
    await page.getByRole('button', { name: 'Start over' }).click();
  });

  test('Next and Back open the new step at its top, with focus on that step', async () => {
    // A small window, where each step is taller than the window: Next is at the bottom of the step.
    await page.setViewportSize({ width: 800, height: 700 });
    try {
      await freshDraft();
      /** Whether the element's top is inside the window (not scrolled off above or below). */
      const topShown = (testid: string) =>
        page.getByTestId(testid).evaluate((el) => {
          const top = el.getBoundingClientRect().top;
          return top >= 0 && top < window.innerHeight;
        });
      const focused = () => page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? null);
      for (const [i, name, first] of [
        [1, 'Intervention', 'field-intervention'],
        [2, 'Training', 'field-lr'],
      ] as const) {
        await page.getByRole('button', { name: 'Next', exact: true }).scrollIntoViewIfNeeded();
        await next();
        await step(name).and(page.locator('[aria-current="step"]')).waitFor();
        assert.equal(await focused(), `Step ${i + 1}: ${name}`, 'focus is on the step now shown');
        assert.ok(await topShown(first), `step ${i + 1}'s first field is in view`);
      }
      // The last step's Next becomes "Start training": focus was on a button that is gone.
      await page.getByRole('button', { name: 'Next', exact: true }).scrollIntoViewIfNeeded();
      await next();
      await page.getByTestId('train-start').waitFor();
      assert.equal(await focused(), 'Step 4: Preview & start');
      await screenshot(page, 'train-9-step-opens-at-top', false);
      await page.getByRole('button', { name: 'Back', exact: true }).scrollIntoViewIfNeeded();
      await page.getByRole('button', { name: 'Back', exact: true }).click();
      await step('Training').and(page.locator('[aria-current="step"]')).waitFor();
      assert.equal(await focused(), 'Step 3: Training');
      assert.ok(await topShown('field-lr'), "the Training step's first field is in view after Back");
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });

  test('a run the engine would refuse for memory cannot be started; the reason names the wizard’s fields', async () => {
    // A 7B-shaped model whose float32 weights outgrow this computer (a sparse file: only its header
    // is read). Start used to stay enabled beside "Will not start", recording a run that failed at once.
    const layers = Math.ceil((1.3 * totalmem() - 1.05e9) / 0.81e9);
    const runIds = async () => (await rpc(client, 'runs/list', {})).map((r: { id: number }) => r.id);
    const runsBefore = await runIds();
    const big = await rpc(client, 'models/add', {
      path: sparseLlama(tempDir('reft-e2e-big-'), layers),
      name: BIG_MODEL,
    });
    await page.reload();
    await connected(page);
    await freshDraft();
    await page.getByLabel('Base model').selectOption({ label: BIG_MODEL });
    await page.locator('#train-quantize').selectOption('none');
    await step('Training').click();
    await page.getByLabel('Device').selectOption('cpu');
    await next();
    const why =
      /^Will not start: this model's weights take .* in float32 on the CPU, .*as base weights, or a GPU as the device$/;
    // The backend's own estimate of the same run, waited for with no timeout (it reads the model's
    // header and the memory on a loaded machine): the page's, asked before, has come by then.
    const estimate = await rpc(client, 'runs/estimate', {
      modelId: big.id,
      datasetId,
      quantize: 'none',
      device: 'cpu',
    });
    assert.ok(estimate.memory?.problem, 'the backend refuses it for memory too');
    const said = await textWhen(page.getByTestId('est-too-big'), why);
    assert.match(said, why);
    assert.doesNotMatch(said, /--quantize|REFT_STUDIO_MEMORY_CHECK/);
    const start = page.getByTestId('train-start');
    assert.equal(await start.isDisabled(), true);
    assert.equal(await start.getAttribute('title'), said);
    await start.click({ force: true });
    assert.deepEqual(await runIds(), runsBefore, 'no run was recorded');
    await screenshot(page, 'train-10-will-not-start');
    await page.getByRole('button', { name: 'Start over' }).click();
  });

  test('a recipe applied on one model is fitted to the next model chosen, and says so', async () => {
    // Bug: "Instruction following" applied on the demo model (256 positions) kept max length 256 on
    // GPT-2's 128, refused on step 3, with the recipe still shown as applied.
    await rpc(client, 'models/add', { path: modelDir('gpt2'), name: GPT2_MODEL });
    await page.reload();
    await connected(page);
    await freshDraft();
    await page.getByTestId('recipe-instruction').click();
    await page.getByTestId('recipe-why').waitFor();
    await page.getByLabel('Base model').selectOption({ label: GPT2_MODEL });
    await shapeAnswered(GPT2_MODEL);
    const note =
      /^“Instruction following” fitted to this model \(3 layers, 128 positions\): .*max length 128\.$/;
    assert.match(await textWhen(page.getByTestId('recipe-refit'), note), note);
    await step('Training').click();
    assert.equal(await page.getByLabel('Max length').inputValue(), '128');
    await step('Intervention').click();
    assert.equal(await page.getByTestId('step-problems').count(), 0);
    await step('Training').click();
    assert.equal(await page.getByTestId('step-problems').count(), 0);
    await page.getByRole('button', { name: 'Start over' }).click();
  });

  test('one layer is "1 of 1 layer"; a count of 1e21 tokens is too big, not "f1e+21"', async () => {
    await rpc(client, 'models/add', {
      path: sparseLlama(tempDir('reft-e2e-one-'), 1),
      name: ONE_LAYER_MODEL,
    });
    await page.reload();
    await connected(page);
    await freshDraft();
    await page.getByLabel('Base model').selectOption({ label: ONE_LAYER_MODEL });
    await shapeAnswered(ONE_LAYER_MODEL);
    await next();
    assert.equal(await textWhen(page.getByTestId('layer-count'), /of 1 layer$/), '1 of 1 layer');
    await page.getByTestId('positions-first').fill('1e21');
    const tooBig = 'Positions: 1e21 is too big for a count of first tokens: at most the max length.';
    assert.equal(await textWhen(page.getByTestId('step-problems'), tooBig), tooBig);
    await page.getByTestId('positions-first').fill('2.5');
    const whole = 'Positions: first tokens must be a whole number (got 2.5).';
    assert.equal(await textWhen(page.getByTestId('step-problems'), whole), whole);
    await page.getByTestId('positions-first').fill('2');
    assert.equal(await page.getByTestId('step-problems').count(), 0);
    await page.getByRole('button', { name: 'Start over' }).click();
  });

  test('training versions are full versions and train parts, named by split and seed; held-out data shares no rows', async () => {
    const a = await rpc(client, 'datasets/split', { datasetId, seed: 11 });
    await rpc(client, 'datasets/split', { datasetId, seed: 13 });
    await page.reload();
    await connected(page);
    await freshDraft();
    const version = page.getByLabel('Version', { exact: true });
    const labels = await version.locator('option').allTextContents();
    assert.ok(
      labels.length > 2 && labels.every((l) => !/validation part|test part/.test(l)),
      labels.join(' | '),
    );
    assert.ok(labels.some((l) => /train part of v1, seed 11 /.test(l)));
    assert.ok(labels.some((l) => /train part of v1, seed 13 /.test(l)));
    await version.selectOption({ value: String(a.train.id) });
    // Only the parts cut with it: never v1 (it holds every training row) nor the other split's.
    const held = await page
      .getByLabel('Validation version')
      .locator('option:not([disabled])')
      .allTextContents();
    assert.ok(held.length > 0 && held.every((l) => /part of v1, seed 11 /.test(l)), held.join(' | '));
    // A draft that validates on v1 (kept from before) is refused in one line, as runs/start would.
    await page.evaluate(
      ({ parent }) => {
        const key = 'reft-studio.train-draft';
        const d = JSON.parse(sessionStorage.getItem(key) ?? '{}');
        sessionStorage.setItem(key, JSON.stringify({ ...d, validation: 'version', evalVersionId: parent }));
      },
      { parent: a.train.parentVersionId },
    );
    await page.reload();
    await connected(page);
    const line =
      /^Validation: the held-out v1 is the version the training part v\d+ was cut from, so it holds every training row; choose the part cut with v\d+\.$/;
    assert.match(await textWhen(page.getByTestId('step-problems'), line), line);
    await page.getByRole('button', { name: 'Start over' }).click();
  });

  test('Measure speed while another measurement holds the device says so, not "training"', async () => {
    const modelId = await modelIdOf(DEMO_MODEL);
    const asked = { modelId, datasetId, calibrate: true };
    // A first measurement starts the engine's training process; frozen, it holds the next one on the device.
    await rpc(client, 'runs/estimate', { ...asked, batchSize: 3 });
    const lane = execFileSync('pgrep', ['-P', String(server?.proc.pid), '-f', '[-]-lane=train'])
      .toString()
      .trim();
    assert.match(lane, /^\d+$/, 'one training process');
    process.kill(Number(lane), 'SIGSTOP');
    let other: Promise<unknown> | undefined;
    try {
      // Another window's measurement, waiting on the frozen process (and so holding the device).
      client.pushes.length = 0;
      other = rpc(client, 'runs/estimate', { ...asked, batchSize: 5 });
      await waitFor('the other measurement to hold the device', async () =>
        client.pushes.some((p) => {
          if (p.type !== 'push' || p.topic !== 'jobs/progress') return false;
          const j = p.data as { kind: string; state: string };
          return j.kind === 'calibrate' && j.state === 'running';
        }),
      );
      await freshDraft();
      const est = page.getByTestId('train-estimate');
      await est.getByText('Trainable parameters').waitFor();
      await est.getByRole('button', { name: 'Measure speed' }).click();
      const time = est
        .locator('div', { has: page.getByText('Time per epoch', { exact: true }) })
        .locator('dd');
      // Bug: "device busy training", though nothing trained.
      assert.equal(
        (await textWhen(time, /device busy/)).trim(),
        'device busy with other work: measure again once it is free',
      );
      await screenshot(page, 'train-device-busy');
    } finally {
      process.kill(Number(lane), 'SIGCONT');
      await other;
    }
  });

  test('Measure speed can be stopped, and leaving the page stops it: the device is free at once', async () => {
    const modelId = await modelIdOf(DEMO_MODEL);
    /** Starts the engine's training process (a measurement of its own) and freezes it, as a large model's step holds it. */
    const frozenTraining = async (batchSize: number): Promise<number> => {
      await rpc(client, 'runs/estimate', { modelId, datasetId, calibrate: true, batchSize });
      const lane = execFileSync('pgrep', ['-P', String(server?.proc.pid), '-f', '[-]-lane=train'])
        .toString()
        .trim();
      assert.match(lane, /^\d+$/, 'one training process');
      process.kill(Number(lane), 'SIGSTOP');
      return Number(lane);
    };
    const measurementEnded = (state: string) =>
      waitFor(`the measurement to be ${state}`, async () =>
        client.pushes.some((p) => {
          if (p.type !== 'push' || p.topic !== 'jobs/progress') return false;
          const j = p.data as { kind: string; state: string };
          return j.kind === 'calibrate' && j.state === state;
        }),
      );
    const pidGone = (pid: number) => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    };
    let lane = await frozenTraining(7);
    try {
      await freshDraft();
      const est = page.getByTestId('train-estimate');
      await est.getByText('Trainable parameters').waitFor();
      const said = await listenToAnnouncer(page);
      client.pushes.length = 0;
      await est.getByRole('button', { name: 'Measure speed' }).click();
      // Bug: no way to stop it; on a 1.1B model it held the training device for over nine minutes.
      const stop = est.getByRole('button', { name: 'Stop measuring' });
      await stop.waitFor();
      await measurementEnded('running');
      await stop.click();
      const stopped = 'Measurement stopped: nothing was measured, and the device is free.';
      assert.equal(await textWhen(est.getByTestId('est-stopped'), stopped), stopped);
      await measurementEnded('cancelled');
      await waitFor('the frozen process to be gone', async () => pidGone(lane), 10_000);
      // The same button, now Measure speed again, keeps focus; the note is said.
      assert.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), 'Measure speed');
      await waitFor('the note to be said', async () => (await said()).includes(stopped), 5_000);
      await screenshot(page, 'train-measure-stopped');

      // Leaving the page while it measures stops the measurement too.
      lane = await frozenTraining(9);
      client.pushes.length = 0;
      await est.getByRole('button', { name: 'Measure speed' }).click();
      await measurementEnded('running');
      await page.getByTestId('nav-runs').click();
      await measurementEnded('cancelled');
      await waitFor('the frozen process to be gone', async () => pidGone(lane), 10_000);
    } finally {
      if (!pidGone(lane)) process.kill(lane, 'SIGCONT');
    }
    // The device is free: a measurement asked now measures.
    const measured = await rpc(client, 'runs/estimate', {
      modelId,
      datasetId,
      calibrate: true,
      batchSize: 11,
    });
    assert.ok(measured.calibration?.stepMs > 0, JSON.stringify(measured.calibrationSkipped));
  });

  test('no page errors were thrown', () => {
    assert.deepEqual(pageErrors, []);
  });
});
