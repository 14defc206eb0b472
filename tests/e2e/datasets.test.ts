// End-to-end: the Datasets page against the real `reft-studio serve` in Chromium. Upload a file with
// bad rows (file picker) and a new version of it (dropped on the page), review the rejected lines
// after the import, annotate one of two identical rows (only that one), a split refused when the
// ratios do not add up to 1 and then made, the token-length histogram with the long rows flagged,
// drop duplicates, export a version as a downloaded JSONL, rename and delete; then a 10,000-row
// dataset: the list scrolls to its end (virtualised: a few dozen rows in the page), its histogram is
// timed (reported, not asserted), and the backend answers other calls while it counts.
// Screenshots under tests/e2e/screenshots/datasets-*.png.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { type RpcClient, waitFor } from '../backend/helpers.ts';
import { tempDir } from '../helpers/temp.ts';
import {
  closeStudio,
  connected,
  DEMO_MODEL,
  listenToAnnouncer,
  openPage,
  rpc,
  type Served,
  screenshot,
  skip,
  startStudio,
  textWhen,
} from './helpers.ts';

const jsonl = (rows: unknown[]) =>
  `${rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n')}\n`;
const qa = (i: number, long = 1) => ({
  prompt: `Question ${i}: what is ${i} plus ${i}?`,
  completion: `It is ${2 * i}. `.repeat(long).trim(),
});

describe('Datasets page (reft-studio serve + Chromium)', { skip, timeout: 900_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let client: RpcClient;
  const files = tempDir('reft-e2e-datasets-files-');
  const dataDir = tempDir('reft-e2e-datasets-');
  const pageErrors: string[] = [];
  // 12 rows: a duplicate of row 1 at row 5, two long answers, and 2 bad lines.
  const rows = [qa(1), qa(2), qa(3, 60), qa(4), qa(5), qa(2), qa(6), qa(7, 90), qa(8), qa(9), qa(10), qa(11)];
  const withBad = [
    ...rows.slice(0, 3),
    '{"prompt": "cut off',
    ...rows.slice(3, 8),
    { prompt: 'no answer' },
    ...rows.slice(8),
  ];

  before(async () => {
    ({ server, client, browser } = await startStudio(dataDir));
    page = await openPage(browser, {
      viewport: { width: 1280, height: 900 },
      acceptDownloads: true,
      timeout: 30_000,
      errors: pageErrors,
      url: server.url,
    });
    await page.getByTestId('nav-datasets').click();
  });

  after(() => closeStudio({ client, browser, server }));

  const view = () => page.getByTestId('dataset-view');
  /** A screenshot of the open dataset (scrolled to the top of the page's view of it). */
  const shot = async (name: string) => {
    await page.evaluate(() =>
      document.querySelector('[data-testid="dataset-view"]')?.scrollIntoView({ block: 'start' }),
    );
    await screenshot(page, name);
  };
  const tab = (name: RegExp) => view().getByRole('tab', { name });

  test('upload a file with bad rows; the rejected lines can be reviewed after the import', async () => {
    const file = join(files, 'quiz.jsonl');
    writeFileSync(file, jsonl(withBad));
    await page.getByTestId('dataset-file').setInputFiles(file);
    await page.getByTestId('dataset-chosen').getByText('quiz.jsonl').waitFor();
    await page.getByTestId('dataset-import').getByRole('button', { name: 'Import' }).click();
    const result = page.getByTestId('import-result');
    await result.getByText(/Imported “quiz”/).waitFor();
    await result.getByText(/2 lines were left out/).waitFor();
    await view().getByTestId('dataset-name').getByText('quiz').waitFor();
    await screenshot(page, 'datasets-1-imported');
    // Review them from the dataset (not the import dialog): a reload first, so nothing is kept in the page.
    await page.reload();
    await connected(page);
    await tab(/Rejected lines \(2\)/).click();
    const table = page.getByTestId('rejected-table');
    await table.getByRole('cell', { name: '{"prompt": "cut off' }).waitFor();
    await table.getByRole('cell', { name: '{"prompt":"no answer"}' }).waitFor();
    assert.deepEqual(await table.locator('tbody tr td:first-child').allTextContents(), ['4', '10']);
    await shot('datasets-2-rejected-lines');
  });

  test('an upload can be cancelled midway: nothing is imported and the backend keeps no part of it', async () => {
    // Big enough that it is still sending when the button is pressed (1 MB pieces, base64 on a socket).
    const big = join(files, 'big.jsonl');
    const line = `${JSON.stringify(qa(1, 200))}\n`;
    writeFileSync(big, line.repeat(Math.ceil((96 << 20) / line.length)));
    const before = (await rpc(client, 'datasets/list')).length;
    await page.getByTestId('dataset-file').setInputFiles(big);
    await page.getByTestId('dataset-import').getByRole('button', { name: 'Import' }).click();
    await page.getByTestId('upload-cancel').click();
    await page.getByTestId('import-note').getByText('Upload cancelled; nothing was imported.').waitFor();
    assert.equal(await page.getByTestId('upload-cancel').count(), 0);
    assert.equal((await rpc(client, 'datasets/list')).length, before);
    // The discard reached the backend: its staging folder is empty again.
    const staged = join(dataDir, 'uploads');
    for (let i = 0; i < 50 && existsSync(staged) && readdirSync(staged).length > 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(existsSync(staged) ? readdirSync(staged) : [], []);
    assert.equal(pageErrors.length, 0, pageErrors.join('\n'));
  });

  test('a file dropped on the page under the same name becomes version 2, not a second dataset', async () => {
    const body = jsonl([...withBad, qa(12)]);
    const transfer = await page.evaluateHandle((text) => {
      const dt = new DataTransfer();
      dt.items.add(new File([text], 'quiz.jsonl', { type: 'application/jsonl' }));
      return dt;
    }, body);
    await page.getByTestId('dataset-import').dispatchEvent('drop', { dataTransfer: transfer });
    await page.getByTestId('dataset-chosen').getByText('quiz.jsonl').waitFor();
    await page.getByTestId('dataset-import').getByRole('button', { name: 'Import' }).click();
    await page
      .getByTestId('import-result')
      .getByText(/Added as version 2 of “quiz”/)
      .waitFor();
    const list = await rpc(client, 'datasets/list');
    assert.equal(list.filter((d: { name: string }) => d.name === 'quiz').length, 1);
  });

  test('annotating one of two identical rows annotates only that row', async () => {
    await tab(/^Rows/).click();
    const copy = page.getByTestId('row-5'); // the same text as row 1
    await copy.getByRole('button', { name: '2 stars' }).click();
    await copy.getByLabel('Add tag to row 5').fill('duplicate');
    await copy.getByLabel('Add tag to row 5').press('Enter');
    await copy.getByText('duplicate').waitFor();
    await page.reload();
    await connected(page);
    const first = page.getByTestId('row-1');
    await first.waitFor();
    await page.getByTestId('row-5').getByText('duplicate').waitFor();
    assert.equal(await first.getByText('duplicate').count(), 0, 'row 1 has the same text but not the tag');
    assert.equal(await first.getByRole('button', { name: '2 stars' }).getAttribute('aria-pressed'), 'false');
    await shot('datasets-3-annotated');
  });

  test('split: ratios that do not add up to 1 are refused, then a split is made', async () => {
    await tab(/Duplicates & split/).click();
    await view().getByLabel('Test ratio').fill('0');
    await view()
      .getByTestId('split-sum')
      .getByText(/add up to 0\.9/)
      .waitFor();
    await view().getByRole('button', { name: 'Split', exact: true }).click();
    await view()
      .getByRole('alert')
      .getByText(/must add up to 1/)
      .waitFor();
    await view().getByLabel('Train ratio').fill('0.7');
    await view().getByLabel('Validation ratio').fill('0.2');
    await view().getByLabel('Test ratio').fill('0.1');
    await view().getByRole('button', { name: 'Split', exact: true }).click();
    const parts = view().getByTestId('split-result');
    await parts.getByText(/validation/).waitFor();
    await shot('datasets-4-split');
    await parts.getByRole('button', { name: 'browse' }).first().click();
    await page.waitForFunction(() => {
      const select = document.querySelector('[data-testid="dataset-version"]') as HTMLSelectElement | null;
      return /train part of v2/.test(select?.selectedOptions[0]?.textContent ?? '');
    });
  });

  test('token lengths after the chat template: the histogram, and the long rows flagged', async () => {
    await view().getByTestId('dataset-version').selectOption({ label: 'v2 (13 rows)' });
    await tab(/Token lengths/).click();
    await view().getByLabel('Model whose tokenizer counts').selectOption({ label: DEMO_MODEL });
    await view().getByLabel('Max length in tokens').fill('64');
    await view().getByRole('button', { name: 'Count tokens' }).click();
    await view()
      .getByTestId('token-over')
      .getByText(/2 longer than 64/)
      .waitFor();
    await view().locator('svg rect.over').first().waitFor();
    await shot('datasets-5-token-lengths');
    // The flagged rows in the list.
    await view()
      .getByRole('button', { name: /^#2 · / })
      .click();
    await page.getByTestId('row-2').getByText(/tok ⚠/).waitFor();
    await screenshot(page, 'datasets-6-long-row-flagged');
  });

  test('token lengths opened by their address: the model is chosen once the models list arrives', async () => {
    // The view appears with the datasets list, before the models list: its model was left unchosen
    // ("Choose a model first") until the user picked one by hand.
    const demo = (await rpc(client, 'datasets/list')).find((d: { isDemo: boolean }) => d.isDemo);
    assert.ok(browser && server);
    const direct = await openPage(browser, {
      viewport: { width: 1280, height: 900 },
      errors: pageErrors,
      url: `${server.url}#/datasets/${demo.id}/lengths`,
    });
    try {
      const hist = direct.getByTestId('token-lengths');
      await hist.getByRole('button', { name: 'Count tokens' }).waitFor();
      await direct.waitForFunction((name) => {
        const select = document.querySelector<HTMLSelectElement>(
          'select[aria-label="Model whose tokenizer counts"]',
        );
        return select?.selectedOptions[0]?.textContent === name;
      }, DEMO_MODEL);
      const count = hist.getByRole('button', { name: 'Count tokens' });
      assert.equal(await count.isEnabled(), true);
      await count.click();
      await hist.locator('svg rect').first().waitFor();
    } finally {
      await direct.context().close();
    }
  });

  test('drop duplicates makes a new version; export a version as a downloaded JSONL', async () => {
    await tab(/Duplicates & split/).click();
    await view().getByRole('button', { name: 'Drop duplicates' }).click();
    await view()
      .getByTestId('dropped-result')
      .getByText(/Dropped 1 row: version 6 has 12 rows/)
      .waitFor();
    await shot('datasets-7-duplicates-dropped');
    await view().getByTestId('dropped-result').getByRole('button', { name: 'Show it' }).click();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      view().getByRole('button', { name: 'Export JSONL' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'quiz-v6.jsonl');
    const saved = join(files, 'downloaded.jsonl');
    await download.saveAs(saved);
    const got = readFileSync(saved, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(got.length, 12);
    assert.deepEqual(got.at(-1), qa(12));
    assert.equal(got.filter((r: { prompt: string }) => r.prompt === qa(2).prompt).length, 1, 'one copy left');
  });

  test('rename and delete', async () => {
    await view().getByRole('button', { name: 'Rename' }).click();
    await view().getByLabel('New name').fill('Arithmetic quiz');
    await view().getByRole('button', { name: 'Save' }).click();
    await view().getByTestId('dataset-name').getByText('Arithmetic quiz').waitFor();
    await page.getByTestId('datasets-table').getByText('Arithmetic quiz').waitFor();
    const said = await listenToAnnouncer(page);
    await view().getByRole('button', { name: 'Delete' }).click();
    await page.getByTestId('delete-dataset').getByRole('button', { name: 'Delete' }).click();
    await page.getByTestId('datasets-table').getByText('Arithmetic quiz').waitFor({ state: 'detached' });
    assert.equal(await view().count(), 0);
    // Bug: the dataset went without a word of it, on the page or aloud.
    const want = 'Dataset “Arithmetic quiz” deleted.';
    assert.equal(await textWhen(page.getByTestId('datasets-notice'), want), want);
    await waitFor('the deletion said aloud', async () => (await said()).includes(want), 10_000);
    // Deleted here: not said as if another window had (changed-elsewhere.test.ts).
    assert.equal(await page.getByTestId('dataset-gone-note').count(), 0);
    assert.ok(!(await said()).some((s) => s.includes('another window')));
  });

  test('a second dataset of the same name deleted next is said again', async () => {
    // Bug: the note kept its text from the last delete, so this one was not said at all.
    const file = join(files, 'again.jsonl');
    writeFileSync(file, jsonl([qa(1), qa(2)]));
    const { dataset } = await rpc(client, 'datasets/import', { path: file, name: 'Arithmetic quiz' });
    const want = 'Dataset “Arithmetic quiz” deleted.';
    await page.locator(`#open-dataset-${dataset.id}`).click();
    await view().getByTestId('dataset-name').getByText('Arithmetic quiz').waitFor();
    const said = await listenToAnnouncer(page);
    await view().getByRole('button', { name: 'Delete' }).click();
    await page.getByTestId('delete-dataset').getByRole('button', { name: 'Delete' }).click();
    await view().waitFor({ state: 'detached' });
    assert.equal(await textWhen(page.getByTestId('datasets-notice'), want), want);
    await waitFor('the second deletion said aloud', async () => (await said()).includes(want), 10_000);
  });

  test('a pretty-printed .json row whose conversation has another name: the page asks for it', async () => {
    // Bug: its messages were read as rows, the page offered "role" and "content" as the prompt and
    // completion columns, and importing with them made a prompt/completion pair of each message.
    const file = join(files, 'talk.json');
    const turns = [
      { role: 'user', content: 'Ahoy?' },
      { role: 'assistant', content: 'Ahoy, matey!' },
    ];
    writeFileSync(file, JSON.stringify({ convo: turns }, null, 2));
    await page.getByTestId('dataset-file').setInputFiles(file);
    const form = page.getByTestId('dataset-import');
    await form.getByRole('button', { name: 'Import' }).click();
    // Choosing it is the next step, said beside the choice (not an error).
    const cols = form.getByTestId('dataset-columns');
    await cols.getByText(/"convo" holds a conversation: choose it as the conversation/).waitFor();
    assert.equal(await cols.getByLabel('Conversation').inputValue(), 'convo');
    assert.equal(await cols.getByLabel('Prompt').count(), 0);
    await form.getByRole('button', { name: 'Import' }).click();
    await page
      .getByTestId('import-result')
      .getByText(/Imported “talk” \(1 row, chat\)/)
      .waitFor();
  });

  test('columns whose names hold ", " and ")": the page offers them as the file names them', async () => {
    // Bug: the page read them back out of the message, "(columns: …)" split on ", ": it offered
    // "Q (asked" and "politely" for "Q (asked, politely)", and ', (twice)' as the conversation of a
    // column 'he said "hi", (twice)'. Now they come as the error's data.
    const csv = join(files, 'odd-columns.csv');
    writeFileSync(csv, '"Q (asked, politely)","A, in full)"\nWhere is it?,Under the palm.\n');
    await page.getByTestId('dataset-file').setInputFiles(csv);
    const form = page.getByTestId('dataset-import');
    await form.getByRole('button', { name: 'Import' }).click();
    const cols = form.getByTestId('dataset-columns');
    const names = ['Q (asked, politely)', 'A, in full)'];
    await cols.getByLabel('Prompt').waitFor();
    assert.deepEqual(await cols.getByLabel('Prompt').locator('option').allTextContents(), names);
    assert.equal(await cols.getByLabel('Prompt').inputValue(), names[0]);
    assert.equal(await cols.getByLabel('Completion').inputValue(), names[1]);
    await form.getByRole('button', { name: 'Import' }).click();
    await page
      .getByTestId('import-result')
      .getByText(/Imported “odd-columns” \(1 row, prompt-completion\)/)
      .waitFor();

    const json = join(files, 'odd-talk.json');
    const convo = 'he said "hi", (twice)';
    const turns = [
      { role: 'user', content: 'Ahoy?' },
      { role: 'assistant', content: 'Ahoy, matey!' },
    ];
    writeFileSync(json, JSON.stringify({ [convo]: turns, 'note, (x)': 'n' }, null, 2));
    await page.getByTestId('dataset-file').setInputFiles(json);
    await form.getByRole('button', { name: 'Import' }).click();
    await cols.getByLabel('Conversation').waitFor();
    assert.deepEqual(await cols.getByLabel('Conversation').locator('option').allTextContents(), [
      convo,
      'note, (x)',
    ]);
    assert.equal(await cols.getByLabel('Conversation').inputValue(), convo);
    await form.getByRole('button', { name: 'Import' }).click();
    await page
      .getByTestId('import-result')
      .getByText(/Imported “odd-talk” \(1 row, chat\)/)
      .waitFor();
  });

  test('10,000 rows: the list is virtualised and scrolls to the end; the histogram is timed', async () => {
    const big = Array.from({ length: 10_000 }, (_, i) => ({
      prompt: `Example ${i}: ${'word '.repeat(5 + (i % 40))}`.trim(),
      completion: `Answer ${i} ${'more '.repeat(i % 25)}`.trim(),
    }));
    const file = join(files, 'ten-thousand.jsonl');
    writeFileSync(file, jsonl(big));
    await page.getByTestId('dataset-file').setInputFiles(file);
    await page.getByTestId('dataset-import').getByRole('button', { name: 'Import' }).click();
    await page
      .getByTestId('import-result')
      .getByText(/Imported “ten-thousand”/)
      .waitFor({ timeout: 120_000 });
    await view()
      .getByTestId('rows-summary')
      .getByText(/10,000 rows/)
      .waitFor();
    // Virtualised: only the rows near the viewport are in the page.
    const mounted = await view().locator('[data-testid^="row-"]').count();
    assert.ok(mounted > 0 && mounted < 100, `${mounted} rows in the page`);
    // Scroll to the end in steps, as a wheel would, and time the frames.
    const scroll = await page.evaluate(async () => {
      const box = document.querySelector('.vlist') as HTMLElement;
      const frames: number[] = [];
      let last = performance.now();
      for (let i = 0; i < 60; i++) {
        box.scrollTop += box.scrollHeight / 50;
        await new Promise((r) => requestAnimationFrame(r));
        const now = performance.now();
        frames.push(now - last);
        last = now;
      }
      frames.sort((a, b) => a - b);
      return { median: frames[frames.length >> 1], worst: frames[frames.length - 1] };
    });
    // The rows near the end arrive after the scroll, taller than the space the list kept for them
    // while they loaded, so the end moved down: on a loaded machine they arrive after the loop above
    // and leave row 9,999 just below the view. Scroll on to the end, as a person would, until it shows.
    await waitFor(
      'the last row at the end of the list',
      async () => {
        await page.evaluate(() => {
          const box = document.querySelector('.vlist') as HTMLElement;
          box.scrollTop = box.scrollHeight;
        });
        return page.getByTestId('row-9999').isVisible();
      },
      30_000,
      200,
    );
    console.log(
      `# 10,000 rows: scroll frames median ${scroll.median.toFixed(1)} ms, worst ${scroll.worst.toFixed(1)} ms`,
    );
    await shot('datasets-8-ten-thousand-scrolled');

    // The histogram, timed from the click to the chart in the page; the backend answers meanwhile.
    await tab(/Token lengths/).click();
    await view().getByLabel('Model whose tokenizer counts').selectOption({ label: DEMO_MODEL });
    const t0 = Date.now();
    await view().getByRole('button', { name: 'Count tokens' }).click();
    const during = await rpc(client, 'datasets/list');
    const answeredMs = Date.now() - t0;
    // First an estimate from 1,000 rows picked at random, then every row.
    await view().getByTestId('token-estimate').waitFor({ timeout: 120_000 });
    const firstMs = Date.now() - t0;
    await shot('datasets-9-ten-thousand-estimate');
    await view()
      .getByTestId('token-summary')
      .getByText(/10,000 examples/)
      .waitFor({ timeout: 300_000 });
    const exactMs = Date.now() - t0;
    assert.ok(during.length > 0);
    assert.ok(answeredMs < exactMs, 'another call was answered while the tokens were being counted');
    const reported = await view().getByTestId('token-time').textContent();
    console.log(
      `# 10,000-row histogram: estimate on screen ${firstMs} ms after the click, exact ${exactMs} ms (${reported?.replace(/\s+/g, ' ').trim()}); datasets/list answered after ${answeredMs} ms meanwhile`,
    );
    await shot('datasets-10-ten-thousand-histogram');
    assert.deepEqual(pageErrors, []);
  });
});
