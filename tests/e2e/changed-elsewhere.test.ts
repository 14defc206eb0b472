// End-to-end: pages open on an entry that another window or the CLI changes.
// - An adapter whose detail is open, removed elsewhere: before, the detail just vanished and the
//   address still named it; now one line says why.
// - A run the studio trained in this page session, paused, then resumed by `reft-studio runs resume`:
//   the Runs page showed the studio job's last step, ETA and speed for it until a reload (the job's
//   counters outlived the job); a zoomed chart snapped back to all steps at every step the CLI
//   stored; and each step read the log's whole tail again (its first line arrived once a step).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { BIN, LLAMA_FIXTURE, ROOT, type RpcClient, writeJsonl } from '../backend/helpers.ts';
import { REFT } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';
import { closeStudio, connected, demoIds, openPage, rpc, type Served, skip, startStudio } from './helpers.ts';

describe('open pages beside changes made elsewhere', { skip, timeout: 300_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let client: RpcClient;
  let page: Page;
  let cli: ChildProcess | undefined;
  const pageErrors: string[] = [];
  /** What the page's socket received, from its first frame. */
  const received: string[] = [];
  const dataDir = tempDir('reft-e2e-changed-elsewhere-');

  before(async () => {
    ({ server, client, browser } = await startStudio(dataDir));
    page = await openPage(browser, { viewport: { width: 1280, height: 900 }, errors: pageErrors });
    page.on('websocket', (ws) => ws.on('framereceived', (f) => received.push(String(f.payload))));
    await page.goto(server.url);
    await connected(page);
  });

  after(async () => {
    cli?.kill('SIGKILL');
    await closeStudio({ client, browser, server });
  });

  test('an open adapter removed in another window: a line says why its detail went', async () => {
    const model = await rpc(client, 'models/add', { path: LLAMA_FIXTURE });
    const pyreft = join(REFT, 'llama-loreft-l1-shared', 'pyreft_final');
    const { adapter } = await rpc(client, 'adapters/import', {
      path: pyreft,
      modelId: model.id,
      positions: 'l1',
    });
    await page.goto(`${server?.url}#/adapters/${adapter.id}`);
    await connected(page);
    await page.getByTestId('adapter-detail').waitFor();
    assert.equal(await page.getByTestId('adapter-gone-note').count(), 0);

    await rpc(client, 'adapters/remove', { id: adapter.id });
    await page
      .getByTestId('adapter-gone-note')
      .getByText(`Adapter ${adapter.id} was removed (in another window or by the CLI).`)
      .waitFor();
    assert.equal(await page.getByTestId('adapter-detail').count(), 0);
    // Another address, no note.
    await page.goto(`${server?.url}#/adapters`);
    await page.getByTestId('adapter-gone-note').waitFor({ state: 'detached' });
    assert.deepEqual(pageErrors, []);
  });

  test('an open dataset deleted in another window: a line says which went and why', async () => {
    // Bug: the dataset open below the list (perhaps a row edit in it) just vanished, the address still
    // naming it, and nothing said why.
    const rows = join(tempDir('reft-e2e-changed-elsewhere-files-'), 'gone.jsonl');
    writeJsonl(rows, 3);
    const { dataset } = await rpc(client, 'datasets/import', { path: rows });
    await page.goto(`${server?.url}#/datasets/${dataset.id}`);
    await connected(page);
    await page.getByTestId('dataset-view').waitFor();
    assert.equal(await page.getByTestId('dataset-gone-note').count(), 0);

    await rpc(client, 'datasets/remove', { id: dataset.id });
    await page
      .getByTestId('dataset-gone-note')
      .getByText(`Dataset “${dataset.name}” was deleted (in another window or by the CLI).`)
      .waitFor();
    assert.equal(await page.getByTestId('dataset-view').count(), 0);
    // Another address, no note.
    await page.goto(`${server?.url}#/datasets`);
    await page.getByTestId('dataset-gone-note').waitFor({ state: 'detached' });
    assert.deepEqual(pageErrors, []);
  });

  test('a studio run resumed by the CLI: its own progress, a zoom that stays, the log read on', async () => {
    const { modelId } = await demoIds(client);
    // Steps of 150 micro-batches (a step is at most an epoch): slow enough to pause it, and to
    // watch the CLI's steps come.
    const rows = join(tempDir('reft-e2e-changed-elsewhere-files-'), 'rows.jsonl');
    writeJsonl(rows, 150);
    const { dataset } = await rpc(client, 'datasets/import', { path: rows });
    await page.goto(`${server?.url}#/runs`);
    await connected(page);
    const { runId } = await rpc(client, 'runs/start', {
      modelId,
      datasetId: dataset.id,
      layers: '1',
      rank: 2,
      maxSteps: 10,
      batchSize: 1,
      gradAccum: 150,
    });
    // The page hears the studio's job (its step, ETA and speed) until it is paused.
    const progress = page.getByTestId(`run-progress-${runId}`);
    await progress.getByText(/^\s*[2-9] \/ 10/).waitFor({ timeout: 120_000 });
    await rpc(client, 'runs/pause', { id: runId });
    await waitStatus(runId, 'paused');
    const studioSteps = (await rpc(client, 'runs/get', { id: runId })).lastStep as number;

    cli = spawn(process.execPath, [BIN, 'runs', 'resume', String(runId), '-q', '--data-dir', dataDir], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    cli.stderr?.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => cli?.on('close', resolve));

    await page.locator(`#open-run-${runId}`).click();
    const detail = page.getByTestId('run-detail');
    await detail.locator('[data-status="running"]').waitFor();
    const stepShown = async () => Number(/^\s*(\d+) \//.exec((await progress.textContent()) ?? '')?.[1]);
    // The steps the CLI trains, while it trains them: before, the studio job's last step (and its
    // ETA and speed) stayed until the run ended.
    await waitUntil('a step the CLI trained shown while it trains', async () => {
      const n = await stepShown();
      return n >= studioSteps + 2 && n < 10;
    });

    // Zoomed in, the chart stays on its steps while the CLI stores more.
    const chart = page.getByTestId('loss-chart');
    await chart.getByRole('button', { name: 'Zoom in' }).click();
    const range = chart.getByTestId('chart-range');
    await range.waitFor();
    const zoomed = await range.textContent();
    const at = await stepShown();
    await waitUntil('two more steps', async () => (await stepShown()) >= Math.min(at + 2, 10));
    assert.equal(await range.textContent(), zoomed, 'the zoom outlives new points');

    assert.equal(await exited, 0, stderr);
    await detail.locator('[data-status="completed"]').waitFor();
    await detail.getByRole('tab', { name: 'Log' }).click();
    const log = detail.getByTestId('run-log');
    await log.getByText(/^completed; its adapter is #\d+/).waitFor();
    assert.equal(await log.getByText(/^completed; its adapter is #\d+/).count(), 1, 'no line twice');
    // The log's first line came once (the detail's first read), not again with every step.
    const first = (await rpc(client, 'runs/logs', { id: runId }))[0].text as string;
    const carrying = received.filter((m) => m.includes(JSON.stringify(first).slice(1, -1)));
    assert.ok(carrying.length <= 2, `the log's first line was received ${carrying.length} times`);
    assert.deepEqual(pageErrors, []);
  });

  async function waitStatus(runId: number, status: string): Promise<void> {
    await waitUntil(`run ${runId} ${status}`, async () => {
      return (await rpc(client, 'runs/get', { id: runId })).status === status;
    });
  }

  async function waitUntil(what: string, ok: () => Promise<boolean>, ms = 60_000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});
