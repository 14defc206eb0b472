// End-to-end: long work in the studio shows how far it is and can be stopped. An adapter export has a
// Stop button (a bundle copies the run's whole dataset: seconds for a big one) that leaves nothing at
// the destination, an earlier export there as it was; a token count of a big version shows and says
// the rows counted so far; and the Train wizard's preview answers while such a count runs (it waited
// for the count's end). The backend sides: tests/backend/export-cancel.test.ts, token-count-cancel.test.ts.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RpcClient } from '../backend/helpers.ts';
import { tempDir } from '../helpers/temp.ts';
import {
  closeStudio,
  connected,
  DEMO_MODEL,
  listenToAnnouncer,
  openPage,
  rpc,
  type Served,
  skip,
  startStudio,
  trainedOnDemo,
} from './helpers.ts';

/** The serve process's engine process of `lane` (a child, or a child's child), if it runs. */
function enginePid(servePid: number, lane: string): number | null {
  const children = (pid: number) =>
    readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .filter((n) => {
        try {
          const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
          return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
        } catch {
          return false; // gone meanwhile
        }
      })
      .map(Number);
  const queue = [servePid];
  while (queue.length) {
    for (const c of children(queue.shift() as number)) {
      const cmd = readFileSync(`/proc/${c}/cmdline`, 'utf8');
      if (cmd.includes('engine-worker') && cmd.includes(`--lane=${lane}`)) return c;
      queue.push(c);
    }
  }
  return null;
}

/** What document.activeElement is: its id. */
const focusedId = (page: Page) => page.evaluate(() => document.activeElement?.id ?? '');

describe('stopping long work, and seeing how far it is (reft-studio serve + Chromium)', {
  skip,
  timeout: 600_000,
}, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let client: RpcClient;
  let page: Page;
  let big: number;
  const scratch = tempDir('reft-e2e-long-work-files-');
  const pageErrors: string[] = [];

  before(async () => {
    ({ server, client, browser } = await startStudio(tempDir('reft-e2e-long-work-')));
    // Long rows, enough for a count of a minute or more on a loaded 2-core machine.
    const words = 'the quick brown fox jumps over a lazy dog while pirates sing about gold'.split(' ');
    const text = (i: number, n: number) =>
      Array.from({ length: n }, (_, k) => words[(i * 7 + k * 3) % 12]).join(' ');
    const file = join(scratch, 'voyages.jsonl');
    const rows = Array.from({ length: 60_000 }, (_, i) =>
      JSON.stringify({ prompt: `Q${i}: ${text(i, 60)}?`, completion: ` ${text(i + 1, 40)}` }),
    );
    writeFileSync(file, `${rows.join('\n')}\n`);
    big = (await rpc(client, 'datasets/import', { path: file })).dataset.id;
    page = await openPage(browser, {
      viewport: { width: 1280, height: 900 },
      errors: pageErrors,
      url: server.url,
    });
  });

  after(() => closeStudio({ client, browser, server }));

  test('Stop export ends an export; nothing is left at the destination, an earlier export as it was', async () => {
    const { adapterId } = await trainedOnDemo(client, { layers: '1', rank: 1, positions: 'l1', maxSteps: 1 });
    const out = join(scratch, 'exports', 'bundle');
    await rpc(client, 'adapters/export', { id: adapterId, out, format: 'bundle' });
    const before = Object.fromEntries(readdirSync(out).map((f) => [f, readFileSync(join(out, f), 'utf8')]));
    await page.goto(`${server?.url}#/adapters/${adapterId}`);
    await connected(page);
    const exp = page.getByTestId('adapter-export');
    await exp.getByLabel('Scale-out bundle').check();
    await exp.getByLabel('Or write into a folder').fill(out);
    await exp.getByLabel('Replace an earlier export there').check();
    // Held as a big dataset's bundle holds it: the 'files' process copying, deaf to a polite cancel.
    const files = enginePid(server?.proc.pid as number, 'files');
    assert.ok(files, "the 'files' engine process");
    process.kill(files, 'SIGSTOP');
    await exp.getByRole('button', { name: 'Export to folder' }).click();
    // Bug: there was no Stop: the export could only be waited for.
    await exp.getByRole('button', { name: 'Stop export' }).click();
    await exp.getByTestId('export-stopped').getByText('Export stopped: nothing was written.').waitFor();
    assert.equal(
      await focusedId(page),
      `export-stopped-${adapterId}`,
      'focus on the note, not lost to <body>',
    );
    assert.equal(await exp.getByRole('button', { name: 'Stop export' }).count(), 0);
    assert.deepEqual(readdirSync(join(scratch, 'exports')), ['bundle'], 'no temp folder beside it');
    assert.deepEqual(
      Object.fromEntries(readdirSync(out).map((f) => [f, readFileSync(join(out, f), 'utf8')])),
      before,
    );
    // The next export runs (in a fresh 'files' process: the frozen one was killed).
    await exp.getByRole('button', { name: 'Export to folder' }).click();
    await exp.getByTestId('export-result').getByText(`Written to ${out}.`).waitFor();
    assert.equal(await exp.getByTestId('export-stopped').count(), 0);
    assert.deepEqual(pageErrors, []);
  });

  test("a big count shows the rows counted, and the wizard's preview answers meanwhile; Stop ends it", async () => {
    await page.goto(`${server?.url}#/datasets/${big}`);
    await connected(page);
    const said = await listenToAnnouncer(page);
    const view = page.getByTestId('dataset-view');
    await view.getByRole('tab', { name: 'Token lengths' }).click();
    await view.getByLabel('Model whose tokenizer counts').selectOption({ label: DEMO_MODEL });
    await view.getByRole('button', { name: 'Count tokens' }).click();
    // Bug: only "Counting…" for minutes.
    await view.getByTestId('token-estimate').waitFor({ timeout: 60_000 });
    const progress = view.getByTestId('count-progress');
    await progress.getByText(/^Counted [\d,]+ of 60,000 rows…$/).waitFor({ timeout: 60_000 });
    // Said politely, at most every 10 s (the sample's count was said first).
    await page
      .waitForFunction(
        () =>
          (window as unknown as { said: string[] }).said.some((t) =>
            /^Counted [\d,]+ of 60,000 rows$/.test(t),
          ),
        undefined,
        { timeout: 30_000 },
      )
      .catch(async () => assert.fail(`said: ${JSON.stringify(await said())}`));
    assert.ok(Number(await view.getByLabel('Token count progress').getAttribute('value')) > 0);

    // The Train wizard in another window: its preview of an example of that version. Bug: it waited
    // for the count's end (153 s for 200,000 rows), "Updating…" with nothing to stop it.
    const wizard = await openPage(browser as Browser, {
      viewport: { width: 1280, height: 900 },
      errors: pageErrors,
      url: server?.url as string,
    });
    try {
      await connected(wizard);
      await wizard.getByTestId('nav-train').click();
      await wizard.getByLabel('Base model').selectOption({ label: DEMO_MODEL });
      await wizard.locator('#train-dataset').selectOption({ label: 'voyages (60,000 rows)' });
      await wizard.getByRole('button', { name: /^Step \d: Preview & start$/ }).click();
      await wizard
        .getByTestId('intervention-preview')
        .getByTestId('preview-tokens')
        .waitFor({ timeout: 30_000 });
    } finally {
      await wizard.close();
    }
    assert.equal(await view.getByRole('button', { name: 'Counting…' }).count(), 1, 'the count still runs');

    await view.getByRole('button', { name: 'Stop counting' }).click();
    await view.getByTestId('count-stopped').waitFor();
    assert.equal(await focusedId(page), 'count-stopped');
    assert.equal(await view.getByTestId('count-progress').count(), 0, 'no progress left of a stopped count');
    assert.ok(await view.getByRole('button', { name: 'Count tokens' }).isEnabled());
    assert.deepEqual(pageErrors, []);
  });
});
