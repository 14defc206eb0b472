// End-to-end: `reft-studio train` in a terminal on the data folder of an open Runs page. The run
// appears in the list, and its detail follows it to the end — steps, status and the lines the CLI
// writes to its log — without a reload. Before, the page heard nothing of another process's run (no
// push came: library/outside-changes.ts now sends them), and once it did, the log still stayed as
// first read, since a CLI run sends no 'runs/log' pushes.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { BIN, ROOT, type RpcClient, runCli, waitFor, writeJsonl } from '../backend/helpers.ts';
import { tempDir } from '../helpers/temp.ts';
import { closeStudio, connected, openPage, rpc, type Served, skip, startStudio } from './helpers.ts';

describe('a run the CLI trains beside the studio', { skip, timeout: 300_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let client: RpcClient;
  let page: Page;
  let cli: ChildProcess | undefined;
  const pageErrors: string[] = [];
  const dataDir = tempDir('reft-e2e-cli-beside-');
  let adapterId: number;
  let runIdOfAdapter: number;

  before(async () => {
    ({ server, client, browser } = await startStudio(dataDir));
    page = await openPage(browser, {
      viewport: { width: 1280, height: 900 },
      errors: pageErrors,
      url: `${server.url}#/runs`,
    });
  });

  after(async () => {
    cli?.kill('SIGKILL');
    await closeStudio({ client, browser, server });
  });

  test('shows in the open Runs page, live to its end, log included', async () => {
    const rows = join(tempDir('reft-e2e-cli-beside-files-'), 'rows.jsonl');
    writeJsonl(rows, 64);
    const model = join(ROOT, 'resources', 'demo', 'model');
    // Steps of 200 micro-batches: long enough to open the run while it trains.
    const args = ['train', '--model', model, '--data', rows, '--batch-size', '1', '--grad-accum', '200'];
    cli = spawn(
      process.execPath,
      [BIN, ...args, '--layers', '1', '--rank', '2', '--max-steps', '12', '-q', '--data-dir', dataDir],
      {
        cwd: ROOT,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    cli.stderr?.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => cli?.on('close', resolve));

    // The list gains the run without a reload; its detail opens while it trains.
    const link = page.locator('a[id^="open-run-"]');
    await link.first().waitFor();
    const runId = Number((await link.first().getAttribute('id'))?.replace('open-run-', ''));
    await link.first().click();
    const detail = page.getByTestId('run-detail');
    await detail.locator('[data-status="running"]').waitFor();
    await detail.getByRole('tab', { name: 'Log' }).click();
    await detail
      .getByTestId('run-log')
      .getByText(/^started: loreft rank 2/)
      .waitFor();
    // How long it has left and how fast it goes, from its stored steps: no job of the studio's
    // reports them (before, a CLI run showed neither).
    await page
      .getByTestId(`run-progress-${runId}`)
      .getByText(/ETA .+ · [\d,]+ tok\/s/)
      .waitFor();

    assert.equal(await exited, 0, stderr);
    // The end the CLI wrote reaches the open detail: its status, its last step and its log line.
    await detail.locator('[data-status="completed"]').waitFor();
    await detail
      .getByTestId('run-log')
      .getByText(/^completed; its adapter is #\d+/)
      .waitFor();
    await page.getByTestId(`run-progress-${runId}`).getByText('12 / 12').waitFor();
    const run = await rpc(client, 'runs/get', { id: runId });
    assert.equal(run.status, 'completed');
    assert.deepEqual(pageErrors, []);
    adapterId = (await rpc(client, 'adapters/list')).find((a: { runId: number }) => a.runId === runId).id;
    runIdOfAdapter = runId;
  });

  /** Trains 8 steps with the CLI on a dataset of its own; resolves once the Runs page shows the end. */
  async function trainBeside(dataset: string): Promise<number> {
    const rows = join(tempDir('reft-e2e-cli-beside-files-'), `${dataset}.jsonl`);
    writeJsonl(rows, 16);
    const model = join(ROOT, 'resources', 'demo', 'model');
    const args = [
      '--batch-size',
      '1',
      '--grad-accum',
      '40',
      '--layers',
      '1',
      '--rank',
      '2',
      '--max-steps',
      '8',
    ];
    const done = await runCli([
      'train',
      '--model',
      model,
      '--data',
      rows,
      ...args,
      '-q',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(done.code, 0, done.stderr);
    // Its end is pushed too: once the Runs page shows it, the other pages are past the last push.
    const id = (await rpc(client, 'runs/list'))[0].id as number;
    await page.getByTestId(`run-progress-${id}`).getByText('8 / 8').waitFor();
    await new Promise((r) => setTimeout(r, 1500));
    return id;
  }

  test('pages open on other entries reload nothing at each step of a CLI run', async () => {
    // Each step of a CLI run is a 'runs' change pushed to every window. Before, an open adapter's
    // panel read its lineage again for each, about once a second, whatever run it came from, and a
    // comparison of two finished runs read both again.
    const other = await openPage(browser as Browser, {
      viewport: { width: 1280, height: 900 },
      errors: pageErrors,
    });
    const sent: string[] = [];
    other.on('websocket', (ws) => ws.on('framesent', (f) => sent.push(String(f.payload))));
    const reads = (method: string) => sent.filter((m) => m.includes(`"method":"${method}"`)).length;

    await other.goto(`${server?.url}#/adapters/${adapterId}`);
    await connected(other);
    await other.getByTestId('adapter-detail').waitFor();
    await waitFor('the first lineage read', async () => reads('adapters/lineage') || null);
    let before = reads('adapters/lineage');
    // Another dataset than the adapter's: a new version of its own is a change its lineage shows.
    const second = await trainBeside('second-rows');
    assert.equal(reads('adapters/lineage') - before, 0, 'lineage reads during another run');

    await other.goto(`${server?.url}#/runs/compare/${runIdOfAdapter},${second}`);
    await other.getByTestId('run-compare').waitFor();
    await waitFor('both compared runs read', async () => (reads('runs/get') >= 2 ? 1 : null));
    before = reads('runs/get');
    await trainBeside('third-rows');
    assert.equal(reads('runs/get') - before, 0, 'compared runs read during another run');
    assert.deepEqual(pageErrors, []);
  });
});
