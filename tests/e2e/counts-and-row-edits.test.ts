// End-to-end: a 1,200-row dataset read by people. Its counts are grouped as everywhere else in the
// studio ("1,200", not "1200": the Datasets list, the import's note, the version and dataset menus,
// the Rows tab, the estimate's examples and steps, the intervention preview's pager). The row editor
// asks before Escape throws away an edited row (it closed at once, and the edit was gone); an
// unchanged row still closes at once; a row it cannot save (not JSON, a key no row keeps) leaves focus
// in its text, described by the error. An import says which rows are duplicates and which columns
// were not kept.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RpcClient } from '../backend/helpers.ts';
import { tempDir } from '../helpers/temp.ts';
import {
  closeStudio,
  DEMO_DATASET,
  DEMO_MODEL,
  listenToAnnouncer,
  openPage,
  type Served,
  skip,
  startStudio,
  textWhen,
} from './helpers.ts';

const ROWS = 1200;

describe('Counts and row edits (reft-studio serve + Chromium)', { skip, timeout: 300_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let client: RpcClient;
  const pageErrors: string[] = [];

  before(async () => {
    ({ server, client, browser } = await startStudio(tempDir('reft-e2e-counts-')));
    page = await openPage(browser, {
      viewport: { width: 1280, height: 900 },
      errors: pageErrors,
      url: server.url,
    });
  });

  after(() => closeStudio({ client, browser, server }));

  const view = () => page.getByTestId('dataset-view');

  test('a 1,200-row dataset: its counts are grouped wherever they are shown', async () => {
    const file = join(tempDir('reft-e2e-counts-files-'), 'counts.jsonl');
    const rows = Array.from({ length: ROWS }, (_, i) =>
      JSON.stringify({ prompt: `Question ${i}?`, completion: ` Answer ${i}.` }),
    );
    writeFileSync(file, `${rows.join('\n')}\n`);
    await page.getByTestId('nav-datasets').click();
    await page.getByTestId('dataset-file').setInputFiles(file);
    await page.getByTestId('dataset-import').getByRole('button', { name: 'Import' }).click();
    // Bug: "Imported “counts” (1200 rows, prompt-completion)."
    await page
      .getByTestId('import-result')
      .getByText('Imported “counts” (1,200 rows, prompt-completion).')
      .waitFor({ timeout: 60_000 });
    await page
      .getByRole('row', { name: /counts/ })
      .getByRole('cell', { name: '1,200', exact: true })
      .waitFor();
    await view().getByRole('tab', { name: 'Rows (1,200)' }).waitFor();
    await view().getByTestId('rows-summary').getByText('1,200 rows').waitFor();
    assert.equal(
      await view().getByTestId('dataset-version').locator('option:checked').textContent(),
      'v1 (1,200 rows)',
    );

    await page.getByTestId('nav-train').click();
    await page.getByRole('button', { name: 'Start over' }).click();
    await page.getByLabel('Base model').selectOption({ label: DEMO_MODEL });
    await page.locator('#train-dataset').selectOption({ label: 'counts (1,200 rows)' });
    await page.getByRole('button', { name: /^Step \d: Training$/ }).click();
    await page.getByLabel('Batch size').fill('1');
    const est = page.getByTestId('train-estimate');
    // Bug: "1080 training examples", "Steps 1080/epoch".
    const examples = await textWhen(est, /training example/, 60_000);
    assert.match(examples, /\d,\d{3} training examples\./);
    assert.match(examples, /\d,\d{3}\/epoch · \d,\d{3} total/);
    // Bug: the intervention preview's pager said "Example 1 of 1200".
    await page.getByRole('button', { name: /^Step \d: Preview & start$/ }).click();
    const pager = page.getByTestId('intervention-preview').locator('.pager');
    assert.match(await textWhen(pager, / of \d/, 60_000), /Example\s+of 1,200 /);
    assert.deepEqual(pageErrors, []);
  });

  test('an import says how many rows are duplicates (kept) and which columns it did not keep', async () => {
    const file = join(tempDir('reft-e2e-counts-files-'), 'repeats.jsonl');
    const rows = [
      { prompt: 'Ahoy?', completion: 'Arr.' },
      { prompt: 'Ahoy?', completion: 'Arr.', source: 'web' },
      { prompt: 'Bye?', completion: 'Yo ho.' },
    ];
    writeFileSync(file, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
    await page.getByTestId('nav-datasets').click();
    const heard = await listenToAnnouncer(page);
    await page.getByTestId('dataset-file').setInputFiles(file);
    await page.getByTestId('dataset-import').getByRole('button', { name: 'Import' }).click();
    const result = page.getByTestId('import-result');
    await result.getByText('Imported “repeats” (3 rows, prompt-completion).').waitFor({ timeout: 60_000 });
    // Bug: nothing said of the repeated row (the Duplicates tool found it later), nor of "source".
    const dups = '1 duplicate row (same prompt and completion), kept.';
    const unkept =
      'The column “source” was not imported: a prompt-completion row has only "prompt" and "completion".';
    assert.match(
      await result.getByTestId('import-duplicates').innerText(),
      new RegExp(`^${dups.replace(/[().]/g, '\\$&')}`),
    );
    assert.equal(await result.getByTestId('import-unkept').innerText(), unkept);
    await page.waitForFunction(
      (t) => (window as unknown as { said: string[] }).said.some((s) => s.includes(t)),
      `${dups} ${unkept}`,
    );
    assert.ok((await heard()).length > 0);
    await result.getByRole('button', { name: 'Find them with Duplicates' }).click();
    await view().getByRole('heading', { name: 'Duplicates' }).waitFor();
    assert.deepEqual(pageErrors, []);
  });

  test('an import names the keys of chat messages it did not keep, once each', async () => {
    const file = join(tempDir('reft-e2e-counts-files-'), 'named-chat.jsonl');
    const row = (name: string) => ({
      messages: [
        { role: 'user', content: `Ahoy, I am ${name}?`, name },
        { role: 'assistant', content: 'Arr.' },
      ],
    });
    writeFileSync(file, `${[row('Ann'), row('Bob')].map((r) => JSON.stringify(r)).join('\n')}\n`);
    await page.getByTestId('nav-datasets').click();
    const heard = await listenToAnnouncer(page);
    await page.getByTestId('dataset-file').setInputFiles(file);
    await page.getByTestId('dataset-import').getByRole('button', { name: 'Import' }).click();
    const result = page.getByTestId('import-result');
    await result.getByText('Imported “named-chat” (2 rows, chat).').waitFor({ timeout: 60_000 });
    // Bug: a message's "name" was dropped without a word, while a column not kept was said.
    const unkept = 'The message key “name” was not imported: a message has only "role" and "content".';
    assert.equal(await result.getByTestId('import-unkept-keys').innerText(), unkept);
    await page.waitForFunction(
      (t) => (window as unknown as { said: string[] }).said.some((s) => s.includes(t)),
      unkept,
    );
    assert.ok((await heard()).length > 0);
    assert.deepEqual(pageErrors, []);
  });

  test('Escape on an edited row asks before throwing the edit away; an unchanged row closes at once', async () => {
    await page.getByTestId('nav-datasets').click();
    const open = page
      .getByRole('row', { name: new RegExp(DEMO_DATASET) })
      .getByRole('button', { name: 'Open' });
    if (await open.isVisible()) await open.click();
    await view().getByRole('tab', { name: /^Rows/ }).click();
    const editButton = page.getByTestId('row-0').getByRole('button', { name: 'Edit row 0' });
    const editor = page.getByTestId('row-editor');
    const draft = editor.getByLabel('Row as JSON');

    // Unchanged: Escape closes, focus back on Edit.
    await editButton.click();
    await draft.waitFor();
    await page.keyboard.press('Escape');
    await editor.waitFor({ state: 'hidden' });
    assert.equal(await editButton.evaluate((b) => b === document.activeElement), true);

    // Changed: Escape asks, and the edit is still there.
    await editButton.click();
    const edited = '{"prompt": "Ahoy?", "completion": "Arr, edited."}';
    await draft.fill(edited);
    await page.keyboard.press('Escape');
    // Bug: the dialog closed at once and the edit was gone.
    const question = editor.getByTestId('dialog-discard-question');
    await question.getByText('Discard your changes?').waitFor();
    assert.equal(await draft.inputValue(), edited);
    const keep = question.getByRole('button', { name: 'Keep editing' });
    assert.equal(await keep.evaluate((b) => b === document.activeElement), true);
    // Escape again (or Keep editing) goes back to the text, the edit kept.
    await page.keyboard.press('Escape');
    await question.waitFor({ state: 'detached' });
    assert.equal(await editor.isVisible(), true);
    assert.equal(await draft.evaluate((t) => t === document.activeElement), true);
    assert.equal(await draft.inputValue(), edited);
    // A click on the backdrop asks too.
    await page.mouse.click(5, 5);
    await question.waitFor();
    // Discard changes closes without saving: still one version.
    await question.getByRole('button', { name: 'Discard changes' }).click();
    await editor.waitFor({ state: 'hidden' });
    assert.equal(await editButton.evaluate((b) => b === document.activeElement), true);
    assert.equal(await view().getByTestId('dataset-version').locator('option').count(), 1);
    // Opened again, the row is as stored.
    await editButton.click();
    assert.notEqual(await draft.inputValue(), edited);
    await editor.getByRole('button', { name: 'Cancel' }).click();
    await editor.waitFor({ state: 'hidden' });
    assert.deepEqual(pageErrors, []);
  });

  test('a row the editor cannot save: focus in the text, described by the error, said; an extra key is named', async () => {
    await page.getByTestId('nav-datasets').click();
    const open = page
      .getByRole('row', { name: new RegExp(DEMO_DATASET) })
      .getByRole('button', { name: 'Open' });
    if (await open.isVisible()) await open.click();
    await view().getByRole('tab', { name: /^Rows/ }).click();
    const editButton = page.getByTestId('row-0').getByRole('button', { name: 'Edit row 0' });
    const editor = page.getByTestId('row-editor');
    const draft = editor.getByLabel('Row as JSON');
    const save = editor.getByRole('button', { name: 'Save as new version' });
    await editButton.click();
    await draft.waitFor();
    const heard = await listenToAnnouncer(page);
    const refusal = async (fill: string, want: RegExp) => {
      await draft.fill(fill);
      await save.click();
      const note = editor.getByTestId('row-error');
      const said = await textWhen(note.locator('.msg'), want);
      // Bug: invalid JSON left focus on Save; a refusal by the backend moved it to the text.
      await page.waitForFunction(() => document.activeElement?.id === 'row-json');
      const described = await draft.evaluate((t) =>
        (t.getAttribute('aria-describedby') ?? '')
          .split(/\s+/)
          .map((id) => document.getElementById(id)?.textContent ?? '')
          .join(' '),
      );
      assert.match(described, want);
      assert.equal(await draft.getAttribute('aria-invalid'), 'true');
      await page.waitForFunction(
        (t) => (window as unknown as { said: string[] }).said.includes(t),
        said.trim(),
      );
    };
    await refusal('{"prompt": "hello", "completion": "ahoy",}', /not valid JSON/);
    // Bug: saved without a word, and the row stored without "extra".
    await refusal(
      '{"prompt": "hello", "completion": "ahoy", "extra": 1}',
      /"extra" is not kept: a prompt-completion row has only "prompt" and "completion"; remove it/,
    );
    assert.ok((await heard()).length >= 2);
    assert.equal(await view().getByTestId('dataset-version').locator('option').count(), 1, 'nothing saved');
    await draft.fill('{"prompt": "hello", "completion": "ahoy"}');
    await save.click();
    await editor.waitFor({ state: 'hidden' });
    assert.equal(await view().getByTestId('dataset-version').locator('option').count(), 2);
    assert.deepEqual(pageErrors, []);
  });
});
