// End-to-end: a failed run's detail says what to do next. A run whose own data was refused (every
// prompt one token) would fail the same way on a resume: the page says to fix the dataset and offers
// no Resume. A run that failed for something that can be put right offers Resume. Either says where
// its steps really ran: a run asked for CUDA that fell back to the CPU says so in its one line, and
// the Runs list has each run's device ("cpu (asked cuda)" after a fallback). Its log marks the lines
// their sayer marked warnings (a field of the line, not its words).

import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { appendRunLog, runFolder } from '../../electron/backend/library/run-logs.ts';
import { setRunDevice, setRunStatus } from '../../electron/backend/library/runs.ts';
import { tempDir } from '../helpers/temp.ts';
import {
  closeStudio,
  connected,
  ensureRendererBuilt,
  launchBrowser,
  openPage,
  type Served,
  skip,
  startServer,
} from './helpers.ts';

describe('a failed run in the studio (reft-studio serve + Chromium)', { skip, timeout: 120_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const ids: Record<'data' | 'disk' | 'old', number> = { data: 0, disk: 0, old: 0 };
  const why = 'cuda: the CUDA runtime pack is not installed';

  before(async () => {
    ensureRendererBuilt();
    const dataDir = tempDir('reft-e2e-run-failure-');
    const lib = openLibrary(dataDir);
    try {
      const failed = (error: string, code: string | null, config: object) => {
        const id = Number(
          lib.db
            .prepare(`INSERT INTO runs (config_json, status, created_at) VALUES (?, 'running', 1)`)
            .run(JSON.stringify(config)).lastInsertRowid,
        );
        setRunStatus(lib, id, 'failed', error, code);
        return id;
      };
      ids.data = failed("every example's prompt is 1 token", 'no-intervention-positions', { device: 'cpu' });
      ids.disk = failed('no space left on the disk', null, { device: 'cuda', dtype: 'auto' });
      // Recorded before runs kept their precision: its device only.
      ids.old = failed('no space left on the disk', null, { device: 'cpu', dtype: 'auto' });
      setRunDevice(lib, ids.data, { device: 'cpu', fallback: null, precision: 'fp32' });
      setRunDevice(lib, ids.disk, { device: 'cpu', fallback: why, precision: 'fp32' });
      lib.db.prepare(`UPDATE runs SET device = 'cpu' WHERE id = ?`).run(ids.old);
      // A line marked a warning by its sayer, in words that do not say so, and a line of a log
      // written before lines had marks (no `level`), which stays a plain line.
      appendRunLog(lib, ids.disk, 'trainer', 'the GPU went away; running on cpu', 'warn');
      appendFileSync(
        join(runFolder(lib, ids.disk), 'log.jsonl'),
        `${JSON.stringify({ at: 2, source: 'trainer', text: `device 'cuda' unavailable — ${why}; running on cpu` })}\n`,
      );
    } finally {
      closeLibrary(lib);
    }
    server = await startServer(dataDir);
    browser = await launchBrowser();
    page = await openPage(browser, { viewport: { width: 1280, height: 900 } });
  });

  after(() => closeStudio({ browser, server }));

  test('refused data: fix the dataset, no Resume; a full disk: Resume', async () => {
    assert.ok(server);
    await page.goto(`${server.url}#/runs/${ids.data}`);
    await connected(page);
    const detail = page.getByTestId('run-detail');
    await detail.getByText("every example's prompt is 1 token").waitFor();
    await detail
      .getByTestId('run-story')
      .getByText('Resuming would fail the same way: fix the dataset, then start a new run on it.')
      .waitFor();
    assert.equal(await detail.getByRole('button', { name: 'Resume' }).count(), 0);

    await page.goto(`${server.url}#/runs/${ids.disk}`);
    await detail.getByText('no space left on the disk').waitFor();
    await detail
      .getByTestId('run-story')
      .getByText('Once that is put right, Resume starts it again.')
      .waitFor();
    await detail.getByRole('button', { name: 'Resume' }).waitFor();
  });

  test('where the steps ran and in what precision: the device asked for, or the fallback in its one line', async () => {
    assert.ok(server);
    await page.goto(`${server.url}#/runs/${ids.data}`);
    const detail = page.getByTestId('run-detail');
    await detail.getByTestId('run-device').getByText('Ran on cpu in fp32.', { exact: true }).waitFor();
    await page.goto(`${server.url}#/runs/${ids.disk}`);
    await detail
      .getByTestId('run-device')
      .getByText(`device 'cuda' unavailable — ${why}; running on cpu in fp32`, { exact: true })
      .waitFor();
    // The Configuration tab keeps what was asked for, beside where and in what it ran.
    await detail.getByRole('tab', { name: 'Configuration' }).click();
    const config = detail.getByTestId('run-config');
    await config.getByText('cuda (ran on cpu)', { exact: true }).waitFor();
    await config.getByText('auto (ran in fp32)', { exact: true }).waitFor();
    // A run recorded before runs kept their precision says none: no guess.
    await page.goto(`${server.url}#/runs/${ids.old}`);
    await detail.getByTestId('run-device').getByText('Ran on cpu.', { exact: true }).waitFor();
    await detail.getByRole('tab', { name: 'Configuration' }).click();
    await config.getByText('auto', { exact: true }).waitFor();
  });

  test("the run's log marks the lines marked warnings, whatever their words; an older log's lines plain", async () => {
    assert.ok(server);
    await page.goto(`${server.url}#/runs/${ids.disk}`);
    await connected(page);
    const detail = page.getByTestId('run-detail');
    await detail.getByRole('tab', { name: 'Log' }).click();
    const log = detail.getByTestId('run-log');
    const marked = log.locator('li', { hasText: 'the GPU went away' });
    await marked.waitFor();
    // Bug: a kind guessed from the words marked nothing here (the line does not begin "warning").
    assert.equal(await marked.getAttribute('data-level'), 'warn');
    assert.match((await marked.textContent()) ?? '', /warning: the GPU went away; running on cpu$/);
    const old = log.locator('li', { hasText: "device 'cuda' unavailable" });
    assert.equal(await old.getAttribute('data-level'), 'info');
    assert.doesNotMatch((await old.textContent()) ?? '', /warning:/);
  });

  test('the Runs list has the device of each run, a fallback as `runs list` words it', async () => {
    assert.ok(server);
    await page.goto(`${server.url}#/runs`);
    const cell = (id: number) => page.getByTestId(`run-device-${id}`);
    await cell(ids.data).getByText('cpu', { exact: true }).waitFor();
    const fallback = cell(ids.disk).getByText('cpu (asked cuda)', { exact: true });
    await fallback.waitFor();
    // Why, on hover: the run page's one line.
    assert.equal(await fallback.getAttribute('title'), `device 'cuda' unavailable — ${why}; running on cpu`);
  });
});
