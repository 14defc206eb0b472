// End-to-end: axe-core, the accessibility checker, on every page of the studio and its main dialogs,
// in the light and the dark theme. A serious or critical violation (an unlabelled control, a wrong
// role or aria attribute, text too faint to read, a focusable element hidden from screen readers…)
// fails the test, which lists each one by rule and element. Work going on out of sight (a run's
// steps, an evaluation's examples, a reply) is said to a screen reader now and then, never at each step. One server, one browser, one data folder
// with a trained run, an adapter and an imported dataset with a rejected line; a local stand-in for
// the Hugging Face Hub for the search results; the fake providers of tests/fixtures/cuda-pack for the
// CUDA runtime panel.
//
// A11Y_REPORT=<file> also writes every violation, whatever its impact, to that file as JSON (the
// counts by rule the audit of the pages was measured by).

import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import type { RpcClient } from '../backend/helpers.ts';
import { REFT } from '../helpers/fixtures.ts';
import { type LocalHub, startLocalHub } from '../helpers/local-hub.ts';
import { tempDir } from '../helpers/temp.ts';
import { fixtureRepoFiles } from '../hub/helpers.ts';
import {
  closeStudio,
  connected,
  demoIds,
  listenToAnnouncer,
  openPage,
  rpc,
  type Served,
  skip,
  startStudio,
  trainedOnDemo,
} from './helpers.ts';

const axePath = createRequire(import.meta.url).resolve('axe-core');
const FAKE_PACK = fileURLToPath(new URL('../fixtures/cuda-pack/', import.meta.url));
const cudaPackSkip =
  process.platform !== 'linux' || process.arch !== 'x64' ? 'the CUDA pack is Linux x64 only' : false;

interface Violation {
  where: string;
  id: string;
  impact: string;
  help: string;
  targets: string[];
}

describe('accessibility of every page (axe-core, reft-studio serve + Chromium)', {
  skip,
  timeout: 600_000,
}, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let client: RpcClient;
  let page: Page;
  let ids: { modelId: number; datasetId: number };
  let runId: number;
  let adapterId: number;
  let hub: LocalHub | undefined;
  const pageErrors: string[] = [];
  const everything: Violation[] = [];

  before(async () => {
    hub = await startLocalHub({
      'tiny/llama-chat': { files: fixtureRepoFiles('llama'), downloads: 1200, license: 'llama3.2' },
      'tiny/gpt2-gated': { files: fixtureRepoFiles('gpt2'), downloads: 300, gated: true },
      'tiny/bert-base': {
        files: { 'config.json': '{"model_type":"bert","architectures":["BertModel"]}' },
        downloads: 90,
      },
    });
    // The server reads where the Hub is from its environment, copied from this process's.
    const saved = { ...process.env };
    process.env.HF_ENDPOINT = hub.url;
    process.env.HF_HUB_CACHE = tempDir('reft-e2e-a11y-hub-');
    delete process.env.HF_TOKEN;
    try {
      ({ server, client, browser } = await startStudio(tempDir('reft-e2e-a11y-')));
    } finally {
      process.env = saved;
    }
    ids = await demoIds(client);
    ({ runId, adapterId } = await trainedOnDemo(client, {
      name: 'audited',
      layers: '0;1',
      rank: 2,
      maxSteps: 6,
      batchSize: 2,
      probe: { prompts: ['Who are you?'], every: 3, maxNewTokens: 4 },
    }));
    await rpc(client, 'evaluations/run', { adapterId, datasetId: ids.datasetId, kind: 'loss', limit: 4 });
    page = await openPage(browser, {
      viewport: { width: 1280, height: 900 },
      errors: pageErrors,
      bypassCSP: true,
    });
  });

  after(async () => {
    if (process.env.A11Y_REPORT) writeFileSync(process.env.A11Y_REPORT, JSON.stringify(everything, null, 1));
    await closeStudio({ client, browser, server });
    await hub?.stop();
  });

  /** Opens `hash` (a full load, so every page starts from its own first render). */
  async function visit(hash: string): Promise<void> {
    await page.goto(`${server?.url}${hash}`);
    await connected(page);
  }

  /** Runs axe on the page as it is now; returns its serious and critical violations, one line each. */
  async function audit(where: string): Promise<string[]> {
    if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: axePath });
    const found: Violation[] = await page.evaluate(async (w) => {
      // biome-ignore lint/suspicious/noExplicitAny: axe is a global the script tag defines
      const axe = (window as any).axe;
      const r = await axe.run(document, { resultTypes: ['violations'] });
      return r.violations.map(
        (v: { id: string; impact: string; help: string; nodes: { target: string[] }[] }) => ({
          where: w,
          id: v.id,
          impact: v.impact,
          help: v.help,
          targets: v.nodes.map((n) => n.target.join(' ')),
        }),
      );
    }, where);
    everything.push(...found);
    return found
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${where}: ${v.id} (${v.impact}: ${v.help}) at ${v.targets.join(', ')}`);
  }

  /** Audits each state `states` brings the page to, in both themes; fails with every serious one. */
  async function auditAll(states: Array<[string, () => Promise<void>]>): Promise<void> {
    const problems: string[] = [];
    for (const theme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: theme });
      for (const [where, reach] of states) {
        await reach();
        problems.push(...(await audit(`${where} (${theme})`)));
      }
    }
    assert.deepEqual(problems, [], `axe found serious or critical violations:\n${problems.join('\n')}`);
  }

  test('Models, with the remove dialog', async () => {
    await auditAll([
      [
        'Models',
        async () => {
          await visit('#/models');
          await page.getByTestId('models-table').waitFor();
        },
      ],
      [
        'Models: narrow window',
        async () => {
          await page.setViewportSize({ width: 800, height: 900 });
          await page.getByTestId('models-table').waitFor();
        },
      ],
      [
        'Models: Hub search results',
        async () => {
          await page.getByLabel('Search models').fill('tiny');
          await page.getByRole('button', { name: 'Search', exact: true }).click();
          await page.getByTestId('hub-row-tiny/bert-base').waitFor();
        },
      ],
      [
        'Models: a Hub result open',
        async () => {
          await page.getByTestId('hub-row-tiny/llama-chat').getByRole('button', { name: 'Details' }).click();
          await page
            .getByTestId('hub-preview')
            .getByRole('button', { name: /Download/ })
            .first()
            .waitFor();
        },
      ],
      [
        'Models: remove dialog',
        async () => {
          await page.setViewportSize({ width: 1280, height: 900 });
          await page.getByRole('button', { name: 'Remove' }).first().click();
          await page.getByTestId('remove-model-dialog').waitFor();
        },
      ],
    ]);
  });

  test('Datasets: the import with its rejected lines, a dataset open in each view, its dialogs', async () => {
    const file = join(tempDir('reft-e2e-a11y-files-'), 'some bad.jsonl');
    writeFileSync(
      file,
      `${JSON.stringify({ prompt: 'a', completion: 'b' })}\nnot json\n${JSON.stringify({ prompt: 'c', completion: 'd' })}\n`,
    );
    const csv = join(tempDir('reft-e2e-a11y-files-'), 'columns.csv');
    writeFileSync(csv, 'question,answer\nhi,ho\n');
    const view = (name: RegExp) => async () => {
      await page.getByRole('tab', { name }).click();
    };
    await auditAll([
      [
        'Datasets: import result',
        async () => {
          await visit('#/datasets');
          await page.getByTestId('dataset-file').setInputFiles(file);
          await page.getByTestId('dataset-import').getByRole('button', { name: 'Import' }).click();
          await page.getByTestId('import-result').waitFor();
        },
      ],
      [
        'Datasets: import asks for columns',
        async () => {
          await page.getByTestId('dataset-file').setInputFiles(csv);
          await page.getByTestId('dataset-import').getByRole('button', { name: 'Import' }).click();
          await page.locator('#ds-col-prompt').waitFor();
        },
      ],
      [
        'Datasets: rows',
        async () => {
          await visit(`#/datasets/${ids.datasetId}`);
          await page.getByTestId('row-0').waitFor();
        },
      ],
      ['Datasets: token lengths', view(/Token lengths/)],
      ['Datasets: rejected lines', view(/Rejected lines/)],
      ['Datasets: duplicates & split', view(/Duplicates & split/)],
      [
        'Datasets: row editor',
        async () => {
          await view(/^Rows/)();
          await page.getByTestId('row-0').getByRole('button', { name: /Edit/ }).first().click();
          await page.getByTestId('row-editor').waitFor();
        },
      ],
      [
        'Datasets: delete dialog',
        async () => {
          await page.keyboard.press('Escape');
          await page
            .getByRole('button', { name: /^Delete/ })
            .first()
            .click();
          await page.getByTestId('delete-dataset').waitFor();
        },
      ],
    ]);
  });

  test('Train: each step of the wizard', async () => {
    const step = (n: number, name: string) => async () => {
      await page.getByRole('button', { name: `Step ${n}: ${name}` }).click();
    };
    await auditAll([
      [
        'Train: model & data',
        async () => {
          await visit('#/train');
          await page.getByRole('button', { name: 'Start over' }).click();
          await page.getByLabel('Base model').selectOption({ value: String(ids.modelId) });
          await page.getByLabel('Dataset', { exact: true }).selectOption({ value: String(ids.datasetId) });
        },
      ],
      ['Train: intervention', step(2, 'Intervention')],
      [
        'Train: intervention with a problem',
        async () => {
          await page.getByLabel('Rank').fill('65');
          await page.getByTestId('issue-rank').waitFor();
        },
      ],
      [
        'Train: intervention put right',
        async () => {
          await page.getByLabel('Rank').fill('4');
          await page.getByTestId('issue-rank').waitFor({ state: 'detached' });
        },
      ],
      ['Train: training', step(3, 'Training')],
      ['Train: preview & start', step(4, 'Preview & start')],
      [
        'Train: several values, the runs they make',
        async () => {
          await page.getByRole('button', { name: 'Try several values…' }).click();
          await page.getByLabel('Values of Learning rate, separated by commas').fill('1e-3, 4e-3');
          await page.getByTestId('sweep-runs').waitFor();
        },
      ],
      [
        'Train: several values with a problem',
        async () => {
          await page.getByLabel('Values of Learning rate, separated by commas').fill('1e-3, 99');
          await page.getByTestId('sweep-problem').waitFor();
        },
      ],
    ]);
  });

  test('Runs: a run open, each of its views, the delete dialog', async () => {
    const tab = (name: string) => async () => {
      await page.getByTestId('run-detail').getByRole('tab', { name }).click();
    };
    await auditAll([
      [
        'Runs: charts',
        async () => {
          await visit(`#/runs/${runId}`);
          await page.getByTestId('loss-chart').locator('canvas').waitFor();
        },
      ],
      ['Runs: probe answers', tab('Probe answers')],
      ['Runs: configuration', tab('Configuration')],
      ['Runs: log', tab('Log')],
      ['Runs: checkpoints', tab('Checkpoints')],
      [
        'Runs: delete dialog',
        async () => {
          await page
            .getByRole('button', { name: /^Delete/ })
            .first()
            .click();
          await page.getByTestId('delete-dialog').waitFor();
        },
      ],
    ]);
  });

  test('Adapters: the list, one open, the delete dialog, the import form in each state', async () => {
    const folder = join(tempDir('reft-e2e-a11y-files-'), 'imported');
    cpSync(join(REFT, 'llama-loreft-f2l2', 'pyreft_final'), folder, { recursive: true });
    const broken = join(tempDir('reft-e2e-a11y-files-'), 'broken');
    cpSync(folder, broken, { recursive: true });
    writeFileSync(join(broken, 'config.json'), '{ not json');
    const imp = page.getByTestId('adapter-import');
    /** Chooses `dir` (a fresh page each theme, so "imported before" is not the state audited). */
    const choose = (dir: string, name: string) => async () => {
      await visit('#/adapters');
      await imp.getByTestId('import-folder').setInputFiles(dir);
      await imp
        .getByTestId('import-chosen')
        .getByText(/ — \d+ files/)
        .waitFor();
      await imp.getByLabel('Name (optional)').fill(name);
      await imp.getByLabel('Base model (optional)').selectOption({ value: String(ids.modelId) });
      await imp.getByLabel('Positions (optional)').fill('f2+l2');
    };
    let imports = 0;
    await auditAll([
      ['Adapters: import, a folder chosen', choose(folder, 'x')],
      [
        'Adapters: import done',
        async () => {
          await imp.getByLabel('Name (optional)').fill(`imported ${++imports}`);
          await imp.getByRole('button', { name: 'Import' }).click();
          await imp.getByTestId('import-done').waitFor();
        },
      ],
      [
        'Adapters: import failed',
        async () => {
          await choose(broken, 'broken')();
          await imp.getByRole('button', { name: 'Import' }).click();
          await imp.getByRole('alert').waitFor();
        },
      ],
      [
        'Adapters: detail',
        async () => {
          await visit(`#/adapters/${adapterId}`);
          await page.getByTestId('adapter-detail').waitFor();
        },
      ],
      [
        'Adapters: delete dialog',
        async () => {
          await page
            .getByTestId('adapters-table')
            .getByRole('button', { name: /^Delete/ })
            .first()
            .click();
          await page.getByTestId('delete-adapter-dialog').waitFor();
        },
      ],
    ]);
  });

  test('Playground, after a reply', async () => {
    await auditAll([
      [
        'Playground',
        async () => {
          await visit('#/playground');
          await page.getByLabel('Model', { exact: true }).selectOption({ value: String(ids.modelId) });
          await page.getByLabel('Max new tokens').fill('4');
          // A fixed seed: some (40) sample only tokens past the demo tokenizer's vocabulary, an empty
          // reply that has no Copy button to audit.
          await page.getByLabel('Seed').fill('7');
          await page.getByLabel('Message', { exact: true }).fill('Ahoy');
          await page.getByRole('button', { name: 'Send' }).click();
          await page.getByTestId('reply-meta').first().waitFor();
          await page.getByRole('button', { name: 'Copy reply 1 (base)' }).waitFor();
        },
      ],
      [
        'Playground: editing a message',
        async () => {
          await page.getByRole('button', { name: 'Edit message 1' }).click();
          await page.getByTestId('edit-note').waitFor();
        },
      ],
      [
        'Playground: save as training example',
        async () => {
          await page.getByRole('button', { name: 'Cancel edit' }).click();
          await page.getByRole('button', { name: 'Save as training example: reply 1 (base)' }).click();
          await page.getByTestId('save-example').getByLabel('Answer to learn').waitFor();
        },
      ],
    ]);
  });

  const listen = () => listenToAnnouncer(page);

  test("a run's steps, an evaluation's examples and a reply are said, now and then, not each one", async () => {
    // Bug: nothing said a run's progress or end, an evaluation's count or a finished reply to a screen
    // reader (no live region held them); a live count would have read out every step.
    await visit('#/runs');
    let said = await listen();
    const started = Date.now();
    const { runId: second } = await trainedOnDemo(client, {
      name: 'spoken',
      layers: '0',
      rank: 2,
      maxSteps: 40,
      batchSize: 2,
    });
    await page.waitForFunction(() =>
      (window as unknown as { said: string[] }).said.some((t) => t.startsWith('spoken: completed')),
    );
    const runSaid = (await said()).filter((t) => t.startsWith('spoken'));
    const seconds = (Date.now() - started) / 1000;
    assert.equal(runSaid.at(-1), 'spoken: completed at step 40 of 40', runSaid.join('\n'));
    assert.match(runSaid[0] ?? '', /^spoken: step \d+ of 40$/);
    assert.ok(
      runSaid.length <= 2 + seconds / 10,
      `at most one a 10 s (${seconds} s): ${runSaid.join(' | ')}`,
    );
    assert.ok(second > runId);

    await visit(`#/adapters/${adapterId}`);
    said = await listen();
    // Enough rows to be seen running: the demo's 12 were evaluated before the count ever showed.
    const many = join(tempDir('reft-e2e-a11y-many-'), 'many.jsonl');
    const rows = Array.from({ length: 400 }, (_, i) =>
      JSON.stringify({ prompt: `Q ${i}?`, completion: ' A' }),
    );
    writeFileSync(many, `${rows.join('\n')}\n`);
    const { dataset } = await rpc(client, 'datasets/import', { path: many, name: 'many questions' });
    await page.locator('#eval-kind').selectOption('exact-match');
    await page.locator('#eval-dataset').selectOption({ value: String(dataset.id) });
    await page.locator('#eval-limit').fill('');
    const evalStarted = Date.now();
    await page.locator('#eval-run').click();
    // The evaluation's engine process starts first: slow on a loaded machine.
    await page.getByTestId('eval-progress').waitFor({ timeout: 120_000 });
    await page.getByTestId('eval-progress').waitFor({ state: 'detached', timeout: 300_000 });
    const evalSeconds = (Date.now() - evalStarted) / 1000;
    const evalSaid = (await said()).filter((t) => t.startsWith('Evaluation'));
    // Its start, before the model has loaded; then its count now and then.
    assert.equal(evalSaid[0], 'Evaluation started: loading the model.', evalSaid.join('\n'));
    assert.match(evalSaid[1] ?? '', /^Evaluation: \d+ of 400 examples$/, evalSaid.join('\n'));
    assert.ok(
      evalSaid.length <= 2 + evalSeconds / 10,
      `at most one a 10 s (${evalSeconds} s): ${evalSaid.join(' | ')}`,
    );

    await visit('#/playground');
    said = await listen();
    await page.getByLabel('Model', { exact: true }).selectOption({ value: String(ids.modelId) });
    await page.getByLabel('Max new tokens').fill('12');
    // A fixed seed: a random one can sample only tokens that decode to nothing, said otherwise.
    await page.getByLabel('Seed').fill('7');
    await page.getByLabel('Message', { exact: true }).fill('Ahoy');
    await page.getByRole('button', { name: 'Send' }).click();
    await page
      .getByTestId('reply-meta')
      .getByText(/tokens/)
      .waitFor();
    const reply = (await page.getByTestId('playground-output').textContent()) ?? '';
    await page.waitForFunction(() => (window as unknown as { said: string[] }).said.length > 0);
    assert.deepEqual(await said(), [`Base model: ${reply}`], 'the whole reply, said once');
  });

  test('Settings', async () => {
    await auditAll([
      [
        'Settings',
        async () => {
          await visit('#/settings');
          await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
        },
      ],
    ]);
  });

  test('Settings: the CUDA runtime panel refusing a file, then with a pack installed', {
    skip: cudaPackSkip,
  }, async () => {
    const card = page.getByTestId('cuda-runtime');
    const notPackage = join(tempDir('reft-e2e-a11y-files-'), 'provider.nupkg');
    writeFileSync(notPackage, 'not a package');
    const installFrom = async (path: string) => {
      await card.getByLabel('Or from a downloaded package').fill(path);
      await card.getByRole('button', { name: 'Install from it' }).click();
    };
    await auditAll([
      [
        'Settings: CUDA runtime refuses a file',
        async () => {
          await visit('#/settings');
          await installFrom(notPackage);
          await card.getByRole('alert').waitFor();
        },
      ],
      [
        'Settings: CUDA runtime installed, what it still needs',
        async () => {
          await card.getByRole('button', { name: 'Dismiss error' }).click();
          await installFrom(FAKE_PACK);
          await card.getByTestId('cuda-status').waitFor({ timeout: 60_000 });
          await card.getByTestId('cuda-missing').waitFor();
        },
      ],
      [
        'Settings: CUDA runtime removed',
        async () => {
          await card.getByRole('button', { name: 'Remove' }).click();
          await card.getByRole('button', { name: 'Download and install' }).waitFor();
        },
      ],
    ]);
  });

  test('notes an action leaves are said; the smoothing slider is no second live region', async () => {
    // Bug: notes were role=status elements inserted already holding their text (often not read), and
    // the smoothing value an <output>, a live region read out again at every change.
    await visit('#/settings');
    const said = await listen();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    const engineSaved = 'Engine settings saved. They apply to models loaded from now on.';
    await page.getByTestId('engine-saved').getByText(engineSaved).waitFor();
    await page.waitForFunction(
      (t) => (window as unknown as { said: string[] }).said.includes(t),
      engineSaved,
    );
    assert.deepEqual(await said(), [engineSaved]);

    await visit(`#/runs/${runId}`);
    const charts = page.getByTestId('run-detail').getByRole('tabpanel');
    await charts.getByTestId('loss-chart').locator('canvas').waitFor();
    const slider = charts.getByLabel('Smoothing');
    await slider.fill('0.3');
    assert.equal(await slider.getAttribute('aria-valuetext'), '0.30', 'the slider says the value shown');
    assert.equal(await charts.getByRole('status').count(), 0, 'no live region among the charts');
    assert.deepEqual(pageErrors, []);
  });
});
