// End-to-end: a run that prepares a big dataset (tokenizing 40,000 rows before its first step:
// seconds to a minute) says so on its page, instead of only "No loss values yet", counting as its job
// reports the rows (not every 5 s, as the log's lines for people come), and its Pause acts at once.
// The backend side: tests/backend/data-preparation.test.ts. A run `reft-studio train` prepares beside
// the studio says it too (tests/backend/cli-data-preparation-beside-studio.test.ts).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RpcClient } from '../backend/helpers.ts';
import { tempDir } from '../helpers/temp.ts';
import {
  closeStudio,
  connected,
  DEMO_MODEL,
  demoIds,
  openPage,
  root,
  rpc,
  type Served,
  skip,
  startStudio,
  trainedOnDemo,
} from './helpers.ts';

/** The rows done that the page's "Preparing data: 12,000 of 40,000 rows" says. */
const rowsDone = (text: string): number => Number(/: ([\d,]+) of /.exec(text)?.[1].replaceAll(',', ''));

describe("a run's data preparation on its page (reft-studio serve + Chromium)", {
  skip,
  timeout: 300_000,
}, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let client: RpcClient;
  let page: Page;
  let big: number;
  let file: string;
  const dataDir = tempDir('reft-e2e-preparing-');
  const pageErrors: string[] = [];

  before(async () => {
    ({ server, client, browser } = await startStudio(dataDir));
    file = join(tempDir('reft-e2e-preparing-files-'), 'many.jsonl');
    const rows = Array.from({ length: 40_000 }, (_, i) =>
      JSON.stringify({ prompt: `Question ${i}: what is ${i} plus ${i}?`, completion: `It is ${2 * i}.` }),
    );
    writeFileSync(file, `${rows.join('\n')}\n`);
    big = (await rpc(client, 'datasets/import', { path: file })).dataset.id;
    // The training lane's process started: what the page shows next is the preparation's.
    await trainedOnDemo(client, { layers: '1', rank: 1, positions: 'l1', maxSteps: 1 });
    page = await openPage(browser, {
      viewport: { width: 1280, height: 900 },
      errors: pageErrors,
      url: server.url,
    });
  });

  after(() => closeStudio({ client, browser, server }));

  test('the page says how far the preparation is, and Pause stops it at once', async () => {
    const { modelId } = await demoIds(client);
    const { runId } = await rpc(client, 'runs/start', {
      modelId,
      datasetId: big,
      layers: '1',
      rank: 1,
      maxSteps: 2,
    });
    await page.goto(`${server?.url}#/runs/${runId}`);
    await connected(page);
    const detail = page.getByTestId('run-detail');
    // Bug: the page showed only "No loss values yet" for the whole preparation.
    const note = detail.getByTestId('run-preparing');
    await note.waitFor({ timeout: 60_000 });
    const first = (await note.textContent()) ?? '';
    assert.match(first, /^Preparing data: [\d,]+ of 40,000 rows$/);
    // Bug: the page read the count from the log's "preparing data" lines, one every 5 s: it stood
    // still for 5 s at a time. The job's numbers come every 250 ms.
    const t0 = performance.now();
    await page.waitForFunction(
      ([el, was]) => el?.textContent !== was,
      [await note.elementHandle(), first] as const,
      { timeout: 2_500, polling: 50 },
    );
    const next = (await note.textContent()) ?? '';
    assert.match(next, /^Preparing data: [\d,]+ of 40,000 rows$/);
    assert.ok(
      rowsDone(next) > rowsDone(first),
      `${first} then ${next}, ${((performance.now() - t0) / 1000).toFixed(1)} s later`,
    );
    await detail.getByRole('button', { name: 'Pause', exact: true }).click();
    const clicked = performance.now();
    // Bug: Pause waited for the preparation to end.
    await detail.locator('[data-status="paused"]').first().waitFor({ timeout: 5_000 });
    const r = await rpc(client, 'runs/get', { id: runId });
    assert.equal(
      r.status,
      'paused',
      `paused ${((performance.now() - clicked) / 1000).toFixed(1)} s after the click`,
    );
    await note.waitFor({ state: 'detached' });
    assert.deepEqual(pageErrors, []);
  });

  test('a run the CLI prepares beside the studio says how far it is on its page too', async () => {
    const model = (await rpc(client, 'models/list')).find(
      (m: { name: string }) => m.name === DEMO_MODEL,
    ).path;
    const before = (await rpc(client, 'runs/list')).length;
    const args = [
      'train',
      '--model',
      model,
      '--data',
      file,
      '--layers',
      '1',
      '--rank',
      '1',
      '--max-steps',
      '1',
    ];
    const child = spawn(
      process.execPath,
      [join(root, 'bin/reft-studio.js'), ...args, '--data-dir', dataDir],
      {
        cwd: root,
        stdio: 'ignore',
      },
    );
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      let runId: number | undefined;
      for (let i = 0; i < 600 && runId === undefined; i++) {
        const runs: { id: number }[] = await rpc(client, 'runs/list');
        if (runs.length > before) runId = runs[0].id;
        else await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(runId !== undefined, 'the CLI recorded its run');
      await page.goto(`${server?.url}#/runs/${runId}`);
      await connected(page);
      // Bug: the page said nothing until the first step ("No loss values yet"): the CLI's run sends the
      // studio no job progress. It records the count in the run's row, which the studio pushes.
      const note = page.getByTestId('run-detail').getByTestId('run-preparing');
      await note.waitFor({ timeout: 60_000 });
      const first = (await note.textContent()) ?? '';
      assert.match(first, /^Preparing data: [\d,]+ of 40,000 rows$/);
      await page.waitForFunction(
        ([el, was]) => el?.textContent !== was,
        [await note.elementHandle(), first] as const,
        { timeout: 30_000, polling: 100 },
      );
      assert.ok(rowsDone((await note.textContent()) ?? '') > rowsDone(first));
      assert.equal(await exited, 0);
      await note.waitFor({ state: 'detached' });
    } finally {
      child.kill('SIGKILL');
    }
    assert.deepEqual(pageErrors, []);
  });
});
