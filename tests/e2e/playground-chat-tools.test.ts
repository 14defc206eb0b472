// End-to-end: what a chat playground is expected to do besides Send, against the real `reft-studio
// serve` in Chromium on the demo model: Enter sends and Shift+Enter starts a new line, Escape stops;
// the last reply asked again (the same seed when Seed is fixed, else a new one); an earlier message
// edited and sent again (the page says first which turns go); a reply copied; and the curation loop:
// a reply, fixed, saved as a training example into a new dataset and appended to one as a new
// version, each row checked byte for byte in its frozen file; an answer fixed there is not lost to Escape;
// a reply whose tokens decode to nothing says which they were, and its prompt is saved with the
// answer the person writes; a model switched mid-chat is said, and
// each reply then names its model. Seeds are fixed where a reply's text is
// waited for: a random one can sample an empty reply.

import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
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

/** Every reply of these prompts with this seed has text (seed 40 on “Ahoy” has none). */
const SEED = '7';

describe('Playground chat tools (reft-studio serve + Chromium)', { skip, timeout: 300_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let client: RpcClient;
  const pageErrors: string[] = [];
  /** The page's messages to the backend held back (null: they pass at once), and the way on. */
  let held: (string | Buffer)[] | null = null;
  let toBackend: (frame: string | Buffer) => void = () => {};

  before(async () => {
    ({ server, client, browser } = await startStudio(tempDir('reft-e2e-playground-tools-')));
    page = await openPage(browser, { viewport: { width: 1280, height: 900 }, errors: pageErrors });
    // What the page sends the backend passes through here, so a test can hold it back (heldFrames).
    await page.routeWebSocket(/\/rpc\b/, (ws) => {
      const backend = ws.connectToServer();
      toBackend = (frame) => backend.send(frame);
      ws.onMessage((frame) => (held ? held.push(frame) : backend.send(frame)));
    });
    await page.goto(`${server.url}#/playground`);
    await connected(page);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    await page.getByLabel('Model', { exact: true }).selectOption({ label: DEMO_MODEL });
    await page.getByLabel('Max new tokens').fill('6');
    // A fixed seed: a random one samples, now and then, only tokens that decode to nothing on the demo
    // model (see the empty reply's test below), a reply with no Copy or Save to wait for.
    await page.getByLabel('Seed').fill(SEED);
  });

  after(() => closeStudio({ client, browser, server }));

  const composer = () => page.getByLabel('Message', { exact: true });
  const userTurns = () => page.getByTestId('chat-base').getByTestId('user-message');
  const metas = () => page.getByTestId('chat-base').getByTestId('reply-meta');
  /** Waits until `n` replies are finished (a reply being written shows '…'). */
  const finished = (n: number) =>
    page.waitForFunction(
      (k) =>
        Array.from(document.querySelectorAll('[data-testid="reply-meta"]')).filter(
          (e) => !/…/.test(e.textContent ?? ''),
        ).length === k,
      n,
      { timeout: 120_000 },
    );
  /** Asserts the page's note (a copy's, a save's) comes to start with `start`. */
  const noteSays = async (start: RegExp) =>
    assert.match((await textWhen(page.getByTestId('playground-note'), start)).trim(), start);
  /** The dataset called `name`, with its versions' frozen files. */
  const dataset = async (name: string) =>
    (await rpc(client, 'datasets/list')).find((d: { name: string }) => d.name === name);

  test('Enter sends, Shift+Enter starts a new line, Escape stops the answer', async () => {
    await composer().fill('Ahoy');
    await composer().press('Shift+Enter');
    await composer().pressSequentially('matey');
    assert.equal(await composer().inputValue(), 'Ahoy\nmatey', 'Shift+Enter is a line break, not a send');
    assert.equal(await userTurns().count(), 0);
    await composer().press('Enter');
    await finished(1);
    assert.equal(await userTurns().first().textContent(), 'Ahoy\nmatey');
    assert.equal(await composer().inputValue(), '');

    // A long answer, stopped from the keyboard while focus is still in the composer. Greedy, on a
    // new chat, with the prompt playground.test.ts stops: a sampled answer could end by itself first.
    await page.getByRole('button', { name: 'New chat' }).click();
    const temperature = await page.getByLabel('Temperature').inputValue();
    await page.getByLabel('Temperature').fill('0');
    await page.getByLabel('Max new tokens').fill('4000');
    await composer().fill('Ahoy, tell me of the sea.');
    // The answer (74 tokens at ~700 tok/s) can end before a loaded machine reads the Escape: the
    // request and its cancel are held back and reach the backend together, in the order sent.
    held = [];
    await composer().press('Enter');
    await composer().press('Escape');
    const sent = held;
    await waitFor('the page to send its cancel', async () =>
      sent.some((f) => String(f).includes('"generate/cancel"')),
    );
    held = null;
    for (const frame of sent) toBackend(frame);
    await finished(1);
    assert.match((await metas().nth(0).textContent()) ?? '', /^stopped/);
    await page.getByLabel('Temperature').fill(temperature);
    await page.getByLabel('Max new tokens').fill('6');
    await page.getByRole('button', { name: 'New chat' }).click();
  });

  test('Regenerate: the same seed when Seed is fixed, a new one when it is blank', async () => {
    await page.getByLabel('Seed').fill('42');
    await composer().fill('Who are you?');
    await composer().press('Enter');
    await finished(1);
    const first = (await page.getByTestId('playground-output').textContent()) ?? '';
    await page.getByRole('button', { name: 'Regenerate (seed 42)' }).click();
    await finished(1);
    assert.equal(await userTurns().count(), 1, 'the last turn is replaced, not added to');
    assert.match((await metas().first().textContent()) ?? '', / · seed 42$/);
    assert.equal(await page.getByTestId('playground-output').textContent(), first, 'same seed, same answer');

    await page.getByLabel('Seed').fill('');
    await page.getByRole('button', { name: 'Regenerate (new seed)' }).click();
    await finished(1);
    assert.equal(await userTurns().count(), 1);
    assert.doesNotMatch((await metas().first().textContent()) ?? '', / · seed 42$/);
    await page.getByLabel('Seed').fill(SEED);
    await page.getByRole('button', { name: 'New chat' }).click();
  });

  test('editing an earlier message says which turns go, then asks again from there', async () => {
    for (const [k, text] of ['first question', 'second question', 'third question'].entries()) {
      await composer().fill(text);
      await composer().press('Enter');
      await finished(k + 1);
    }
    await composer().fill('a draft kept aside');
    const said = await listenToAnnouncer(page);
    await page.getByRole('button', { name: 'Edit message 2' }).click();
    assert.equal(await composer().inputValue(), 'second question');
    const note = 'Editing message 2: sending it replaces its answer and drops the turn after it.';
    assert.equal(
      (await textWhen(page.getByTestId('edit-note'), new RegExp(`^${note}`))).trim(),
      `${note} Cancel edit`,
    );
    await page.waitForFunction((n) => (window as unknown as { said: string[] }).said.includes(n), note);
    // Cancelled, the draft typed before comes back and nothing is dropped.
    await page.getByRole('button', { name: 'Cancel edit' }).click();
    assert.equal(await composer().inputValue(), 'a draft kept aside');
    assert.equal(await userTurns().count(), 3);

    await page.getByRole('button', { name: 'Edit message 2' }).click();
    await composer().fill('second question, better put');
    await composer().press('Enter');
    await finished(2);
    assert.deepEqual(await userTurns().allTextContents(), ['first question', 'second question, better put']);
    assert.ok((await said()).includes(note));
  });

  test('Copy puts the reply’s text on the clipboard', async () => {
    const text = (await page.getByTestId('playground-output').nth(1).textContent()) ?? '';
    const said = await listenToAnnouncer(page);
    const copied = 'Reply copied to the clipboard.';
    await page.getByRole('button', { name: 'Copy reply 2 (base)' }).click();
    await noteSays(/^Reply copied to the clipboard\./);
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), text);
    // Each press is said, though the note's text stays the same (a new note each time: lib/announce).
    const saidTimes = (n: number) =>
      page.waitForFunction(
        ([t, k]) => (window as unknown as { said: string[] }).said.filter((s) => s === t).length === k,
        [copied, n] as const,
        { timeout: 10_000 },
      );
    await saidTimes(1);
    await page.getByRole('button', { name: 'Copy reply 2 (base)' }).click();
    await saidTimes(2);
    assert.deepEqual(
      (await said()).filter((t) => t === copied),
      [copied, copied],
    );
    await page.getByRole('button', { name: 'New chat' }).click();
  });

  test('a reply, fixed, saved as a training example: a new dataset, then a new version of one', async () => {
    // One message without a system prompt: a prompt/completion row.
    await page.getByLabel('System prompt').fill('');
    await composer().fill('What be yer name?');
    await composer().press('Enter');
    await finished(1);
    await page.getByRole('button', { name: 'Save as training example: reply 1 (base)' }).click();
    const dialog = page.getByTestId('save-example');
    await dialog.waitFor();
    assert.equal(await dialog.getByTestId('example-prompt').textContent(), 'user What be yer name?');
    await dialog.getByLabel('Answer to learn').fill('Cap’n “Redbeard”, at yer service!\n');
    await dialog.getByLabel('New dataset name').fill('Playground picks');
    assert.equal(await dialog.getByTestId('example-template-note').count(), 0, 'asked through the template');
    await dialog.getByRole('button', { name: 'Create dataset' }).click();
    await noteSays(/^Saved to “Playground picks” as version 1 \(1 row\)\./);
    const picks = await dataset('Playground picks');
    assert.equal(picks.latest.format, 'prompt-completion');
    assert.equal(
      readFileSync(picks.latest.filePath, 'utf8'),
      '{"prompt":"What be yer name?","completion":"Cap’n “Redbeard”, at yer service!\\n"}\n',
    );

    // Bug: a reply asked as a plain prompt was saved with no word that training still puts the
    // prompt through the chat template (unless the run sets it to none).
    const plain = page.getByRole('checkbox', { name: /^Plain prompt/ });
    await plain.check();
    await composer().fill('Plain ahoy');
    await composer().press('Enter');
    await finished(2);
    await page.getByRole('button', { name: 'Save as training example: reply 2 (base)' }).click();
    assert.equal(
      await dialog.getByTestId('example-template-note').textContent(),
      'Asked as a plain prompt here, it is trained through the chat template unless the run’s chat template is set to none.',
    );
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await plain.uncheck();

    // A second turn after a system prompt needs a chat row: a prompt/completion dataset refuses it.
    await page.getByRole('button', { name: 'New chat' }).click();
    await page.getByLabel('System prompt').fill('You are a pirate.');
    for (const [k, text] of ['Ahoy', 'Where be the gold?'].entries()) {
      await composer().fill(text);
      await composer().press('Enter');
      await finished(k + 1);
    }
    const firstAnswer = (await page.getByTestId('playground-output').first().textContent()) ?? '';
    await page.getByRole('button', { name: 'Save as training example: reply 2 (base)' }).click();
    await dialog.getByLabel('Answer to learn').fill('Buried on the isle, matey.');
    await dialog
      .getByLabel('Dataset', { exact: true })
      .selectOption({ label: 'Playground picks (prompt-completion, 1 row)' });
    assert.equal(
      await dialog.getByTestId('example-problem').textContent(),
      '“Playground picks” holds prompt-completion rows, one prompt and its answer; this reply follows earlier turns, which only a chat dataset holds: choose a chat dataset or a new one.',
    );
    assert.equal(await dialog.getByRole('button', { name: 'Add to “Playground picks”' }).isDisabled(), true);
    await dialog.getByLabel('Dataset', { exact: true }).selectOption({ label: 'A new dataset…' });
    await dialog.getByLabel('New dataset name').fill('Pirate chats');
    await dialog.getByRole('button', { name: 'Create dataset' }).click();
    await noteSays(/^Saved to “Pirate chats” as version 1/);
    const chatRow = {
      messages: [
        { role: 'system', content: 'You are a pirate.' },
        { role: 'user', content: 'Ahoy' },
        { role: 'assistant', content: firstAnswer },
        { role: 'user', content: 'Where be the gold?' },
        { role: 'assistant', content: 'Buried on the isle, matey.' },
      ],
    };
    const chats = await dataset('Pirate chats');
    assert.equal(readFileSync(chats.latest.filePath, 'utf8'), `${JSON.stringify(chatRow)}\n`);

    // The same reply, answered otherwise, appended to that dataset: its version 2, as the Datasets page shows.
    await page.getByRole('button', { name: 'Save as training example: reply 2 (base)' }).click();
    await dialog.getByLabel('Answer to learn').fill('Under the old oak.');
    await dialog.getByLabel('Dataset', { exact: true }).selectOption({ label: 'Pirate chats (chat, 1 row)' });
    await dialog.getByRole('button', { name: 'Add to “Pirate chats”' }).click();
    await noteSays(/^Saved to “Pirate chats” as version 2 \(2 rows\)\./);
    const v2 = (await dataset('Pirate chats')).latest;
    const second = {
      messages: [...chatRow.messages.slice(0, -1), { role: 'assistant', content: 'Under the old oak.' }],
    };
    assert.equal(
      readFileSync(v2.filePath, 'utf8'),
      `${JSON.stringify(chatRow)}\n${JSON.stringify(second)}\n`,
    );
    await page.getByRole('link', { name: 'Open it in Datasets' }).click();
    const view = page.getByTestId('dataset-view');
    await view.waitFor();
    assert.match(
      (await view.getByTestId('dataset-version').locator('option:checked').textContent()) ?? '',
      /2/,
    );
    await view.getByRole('tab', { name: 'Rows (2)' }).waitFor();
  });

  test('Escape on an edited answer asks before throwing it away; an unedited one closes at once', async () => {
    await page.getByTestId('nav-playground').click();
    const saveButton = page.getByRole('button', { name: 'Save as training example: reply 2 (base)' });
    const dialog = page.getByTestId('save-example');
    const answer = dialog.getByLabel('Answer to learn');
    // Unedited: Escape closes at once.
    await saveButton.click();
    const asWritten = await answer.inputValue();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });

    // Edited: Escape asks, and the answer is still there.
    await saveButton.click();
    await answer.fill('A long answer, fixed by hand.');
    await page.keyboard.press('Escape');
    // Bug: the dialog closed at once and the fixed answer was gone.
    const question = dialog.getByTestId('dialog-discard-question');
    await question.getByText('Discard your changes?').waitFor();
    await question.getByRole('button', { name: 'Keep editing' }).click();
    assert.equal(await answer.inputValue(), 'A long answer, fixed by hand.');
    // A click on the backdrop asks too; Discard changes closes, and the next opening starts afresh.
    await page.mouse.click(5, 5);
    await question.getByRole('button', { name: 'Discard changes' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await saveButton.click();
    assert.equal(await answer.inputValue(), asWritten);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
  });

  test('a reply whose tokens decode to nothing says which they were, offers no Copy, and takes the answer wanted', async () => {
    await page.getByRole('button', { name: 'New chat' }).click();
    await page.getByLabel('System prompt').fill('');
    await page.getByLabel('Max new tokens').fill('4');
    await page.getByLabel('Seed').fill('40');
    const said = await listenToAnnouncer(page);
    await composer().fill('Ahoy');
    await composer().press('Enter');
    await finished(1);
    // The demo model has 640 embedding rows for its tokenizer's 384 ids (tests/runtime/empty-answer.test.ts).
    const note =
      "no text: the 4 tokens decode to nothing (3 ids past the tokenizer's 384: 444, 544, 504; 1 special token, left out of answers: <|user|>)";
    assert.equal(await page.getByTestId('playground-output').textContent(), '');
    assert.equal(await page.getByTestId('reply-empty-note').textContent(), `(${note})`);
    assert.equal(
      await page.getByRole('button', { name: /^(Copy|Save as training example): reply 1/ }).count(),
      0,
    );
    // Said as the reply, not as "stopped before it answered".
    await page.waitForFunction(() => (window as unknown as { said: string[] }).said.length > 0);
    assert.deepEqual(await said(), [`Base model: ${note}`]);
    // Bug: an empty reply offered none of a reply's actions, though it is the very prompt an adapter
    // should learn to answer. The answer the person wanted is written, and saved as a reply's would be.
    await page.getByRole('button', { name: 'Write the answer you wanted: reply 1 (base)' }).click();
    const dialog = page.getByTestId('save-example');
    await dialog.waitFor();
    await screenshot(page, 'playground-empty-reply-answer');
    assert.equal(
      await dialog.getByTestId('example-intro').textContent(),
      'The model’s reply had no text: write the answer the adapter should learn for this prompt.',
    );
    assert.equal(await dialog.getByTestId('example-prompt').textContent(), 'user Ahoy');
    const answer = dialog.getByLabel('Answer to learn');
    assert.equal(await answer.inputValue(), '');
    assert.equal(
      await dialog.getByTestId('example-problem').textContent(),
      'The answer to learn is empty: write the answer you want.',
    );
    await answer.fill('Ahoy, matey!');
    await dialog.getByLabel('New dataset name').fill('Empty replies answered');
    await dialog.getByRole('button', { name: 'Create dataset' }).click();
    await noteSays(/^Saved to “Empty replies answered” as version 1 \(1 row\)\./);
    assert.equal(
      readFileSync((await dataset('Empty replies answered')).latest.filePath, 'utf8'),
      '{"prompt":"Ahoy","completion":"Ahoy, matey!"}\n',
    );
    await screenshot(page, 'playground-empty-reply');
    await page.getByLabel('Seed').fill(SEED);
    await page.getByLabel('Max new tokens').fill('6');
    await page.getByRole('button', { name: 'New chat' }).click();
  });

  test('a model switched mid-chat: the switch is said, and each reply then names its model', async () => {
    const copy = join(tempDir('reft-e2e-second-model-'), 'second');
    cpSync(fileURLToPath(new URL('../../resources/demo/model', import.meta.url)), copy, { recursive: true });
    await rpc(client, 'models/add', { path: copy, name: 'Second demo' });
    await composer().fill('Ahoy');
    await composer().press('Enter');
    await finished(1);
    assert.doesNotMatch((await metas().first().textContent()) ?? '', /Demo: tiny/, 'one model: not named');
    await page.getByLabel('Model', { exact: true }).selectOption({ label: 'Second demo' });
    // Bug: nothing said that the next reply, and every later one, came from another model.
    assert.equal(
      await page.getByTestId('model-switch-note').textContent(),
      `Model changed: Second demo answers the next message, the conversation so far included (${DEMO_MODEL} wrote the last reply).`,
    );
    await composer().fill('Ahoy again');
    await composer().press('Enter');
    await finished(2);
    assert.equal(await page.getByTestId('model-switch-note').count(), 0);
    const [first, second] = await metas().allTextContents();
    assert.match(first ?? '', new RegExp(` · seed ${SEED} · ${DEMO_MODEL.replace(/[()]/g, '\\$&')}$`));
    assert.match(second ?? '', new RegExp(` · seed ${SEED} · Second demo$`));
    await page.getByLabel('Model', { exact: true }).selectOption({ label: DEMO_MODEL });
    await page.getByRole('button', { name: 'New chat' }).click();
  });

  test('no page errors were thrown', () => {
    assert.deepEqual(pageErrors, []);
  });
});
