// End-to-end: the Playground against the real `reft-studio serve` in Chromium. Two adapters of the
// demo model (trained over RPC) composed at different strengths next to the base model, on the same
// message and seed, with a system prompt; Ctrl+Enter sends; a second turn keeps each side's history;
// tokens/s shown; everything still there after visiting another page. Screenshots under
// tests/e2e/screenshots/.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import type { RpcClient } from '../backend/helpers.ts';
import { cudaMissingHere } from '../helpers/cuda-here.ts';
import { tempDir } from '../helpers/temp.ts';
import {
  closeStudio,
  DEMO_MODEL,
  demoIds,
  openPage,
  rpc,
  type Served,
  screenshot,
  skip,
  startStudio,
  trainedOnDemo,
} from './helpers.ts';

describe('Playground (reft-studio serve + Chromium)', { skip, timeout: 600_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let client: RpcClient;
  const adapterNames = ['pirate A', 'pirate B'];
  const pageErrors: string[] = [];

  before(async () => {
    ({ server, client, browser } = await startStudio(tempDir('reft-e2e-playground-')));
    for (const [i, name] of adapterNames.entries())
      await trainedOnDemo(client, { name, layers: '0;1', rank: 2, maxSteps: 6, lr: 0.05, seed: i + 1 });
    page = await openPage(browser, {
      viewport: { width: 1280, height: 900 },
      timeout: 30_000,
      errors: pageErrors,
      url: `${server.url}#/playground`,
    });
  });

  after(() => closeStudio({ client, browser, server }));

  // A reply still waiting shows 'generating…' or what loading the model says ('loading the model…').
  const done = (side: 'base' | 'adapted', n: number) =>
    page.waitForFunction(
      ([s, k]) =>
        Array.from(document.querySelectorAll(`[data-testid="chat-${s}"] [data-testid="reply-meta"]`)).filter(
          (e) => !/…/.test(e.textContent ?? ''),
        ).length === k,
      [side, n] as const,
      { timeout: 120_000 },
    );

  /** Presses Stop from inside the page the moment it shows: a round trip could come after the answer. */
  const pressStopOnceShown = () =>
    page.waitForFunction(() => {
      const stop = Array.from(document.querySelectorAll('button')).find((b) => b.textContent === 'Stop');
      stop?.click();
      return stop !== undefined;
    });

  test('two adapters composed at different strengths, next to the base model, same seed', async () => {
    await page.getByLabel('Model', { exact: true }).selectOption({ label: DEMO_MODEL });
    await page.getByLabel('System prompt').fill('You are a pirate.');
    // Bug: with no adapter on, "Base model side by side" was ticked and disabled, leaving it to guess
    // what answers; the page says so instead, and offers the box once there is something beside it.
    await page
      .getByTestId('base-alone')
      .getByText('No adapter switched on: the base model answers alone.')
      .waitFor();
    assert.equal(await page.getByLabel('Base model side by side').count(), 0);
    for (const name of adapterNames) await page.getByRole('checkbox', { name }).check();
    assert.equal(await page.getByTestId('base-alone').count(), 0);
    await page.getByLabel('Strength of pirate A').fill('1.5');
    await page.getByLabel('Strength of pirate B').fill('0.5');
    await page.getByLabel('Base model side by side').check();
    await page.getByLabel('Temperature').fill('0.8');
    await page.getByLabel('Top-k').fill('20');
    await page.getByLabel('Seed').fill('42');
    await page.getByLabel('Max new tokens').fill('8');
    await page.getByLabel('Message', { exact: true }).fill('Ahoy! Who are you?');
    await page.getByLabel('Message', { exact: true }).press('Control+Enter');
    await done('base', 1);
    await done('adapted', 1);
    await page
      .getByTestId('chat-adapted')
      .getByRole('heading', { name: 'With pirate A ×1.50 + pirate B ×0.50' })
      .waitFor();
    for (const side of ['base', 'adapted']) {
      const meta = (await page.getByTestId(`chat-${side}`).getByTestId('reply-meta').textContent()) ?? '';
      // Decoding speed from the first piece of text to the last (a one-token answer has none).
      // …and where it was written (Settings' device here: the CPU).
      assert.match(meta, /(\d+ tokens · [\d,]+ tok\/s|1 token) · on cpu · seed 42$/, meta);
    }
    assert.equal(await page.getByRole('alert').count(), 0);
    await screenshot(page, 'playground-1-composed-side-by-side');
  });

  test('the page keeps everything when you come back; a second turn keeps each side’s history', async () => {
    await page.getByTestId('nav-runs').click();
    await page.getByRole('heading', { level: 1, name: 'Runs' }).waitFor();
    await page.getByTestId('nav-playground').click();
    await page.getByTestId('chat-adapted').getByText('Ahoy! Who are you?').waitFor();
    assert.equal(await page.getByLabel('Strength of pirate A').inputValue(), '1.5');
    assert.equal(await page.getByLabel('System prompt').inputValue(), 'You are a pirate.');
    await page.getByLabel('Message', { exact: true }).fill('And where is the treasure?');
    await page.getByRole('button', { name: 'Send' }).click();
    await done('base', 2);
    await done('adapted', 2);
    for (const side of ['base', 'adapted'])
      assert.equal(await page.getByTestId(`chat-${side}`).locator('li.user').count(), 2);
    await screenshot(page, 'playground-2-second-turn');
    // Switching one adapter off keeps the other; side by side off shows the adapted model alone.
    await page.getByRole('checkbox', { name: 'pirate B' }).uncheck();
    await page.getByLabel('Base model side by side').uncheck();
    await page.getByTestId('chat-adapted').getByRole('heading', { name: 'With pirate A ×1.50' }).waitFor();
    assert.equal(await page.getByTestId('chat-base').count(), 0);
    await page.getByRole('button', { name: 'New chat' }).click();
    await page.getByText('Write a message below; Enter sends it, Shift+Enter starts a new line.').waitFor();
  });

  test('Settings asks for CUDA, which cannot start here: the reply says it ran on the CPU, and why', async () => {
    await rpc(client, 'settings/environment-set', { device: 'cuda' });
    try {
      await page.getByLabel('Message', { exact: true }).fill('Ahoy?');
      await page.getByLabel('Message', { exact: true }).press('Control+Enter');
      await done('adapted', 1);
      const reply = page.getByTestId('chat-adapted');
      assert.match((await reply.getByTestId('reply-meta').textContent()) ?? '', / · on cpu · seed /);
      // What is missing first: no NVIDIA GPU here (nothing to install), else the pack and the way to
      // install it in the studio's words, not the command line's.
      const missing = await cudaMissingHere();
      assert.match(
        (await reply.getByTestId('reply-device-fallback').textContent()) ?? '',
        missing.startsWith('no NVIDIA GPU')
          ? new RegExp(`^device 'cuda' unavailable — cuda: ${missing} \\([^)]*\\); running on cpu$`)
          : /^device 'cuda' unavailable — cuda: the CUDA runtime pack is not installed \(install it in Settings → NVIDIA GPU runtime\); running on cpu$/,
      );
      assert.doesNotMatch(
        (await reply.getByTestId('reply-device-fallback').textContent()) ?? '',
        /reft-studio/,
      );
      await page.getByRole('button', { name: 'New chat' }).click();
    } finally {
      await rpc(client, 'settings/environment-set', { device: 'cpu' });
    }
  });

  test('a bad sampling value is named and nothing is sent until it is fixed', async () => {
    const turns = await page.getByTestId('chat-adapted').locator('li.user').count();
    await page.getByLabel('Max new tokens').fill('');
    await page.getByLabel('Top-p').fill('5');
    await page.getByLabel('Message', { exact: true }).fill('Still there?');
    const problems = page.getByTestId('sampling-problems');
    await problems.getByText('Max new tokens must be a whole number from 1 to 4096.').waitFor();
    await problems.getByText('Top-p must be a number above 0 and at most 1.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Send' }).isDisabled(), true);
    // Ctrl+Enter sends nothing either: no turn, no backend refusal in its own words.
    await page.getByLabel('Message', { exact: true }).press('Control+Enter');
    await page.waitForTimeout(300);
    assert.equal(await page.getByTestId('chat-adapted').locator('li.user').count(), turns);
    assert.equal(await page.getByRole('alert').count(), 0);
    await page.getByLabel('Max new tokens').fill('8');
    await page.getByLabel('Top-p').fill('1');
    await problems.waitFor({ state: 'detached' });
    // Text a number field cannot read binds blank: it must not pass as "a new seed per message".
    await page.getByLabel('Seed').fill('');
    await page.getByLabel('Seed').pressSequentially('--3');
    await problems.getByText('Seed: not a number.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Send' }).isDisabled(), true);
    await page.getByLabel('Seed').fill('42');
    await problems.waitFor({ state: 'detached' });
    assert.equal(await page.getByRole('button', { name: 'Send' }).isDisabled(), false);
  });

  test('both sides answer with the settings of the moment the message was sent', async () => {
    await page.getByLabel('Base model side by side').check();
    // Long enough that the field is changed while the base side still writes.
    await page.getByLabel('Max new tokens').fill('200');
    await page.getByLabel('Message', { exact: true }).fill('Ahoy, tell me of the sea.');
    await page.getByLabel('Message', { exact: true }).press('Control+Enter');
    // Changed from inside the page as soon as the base side writes (a round trip per check could
    // come after the tiny model has finished). Bug: the adapted side, asked after the base one,
    // read the fields again: it answered 1 token.
    await page.waitForFunction(
      () => {
        const pre = document.querySelector('[data-testid="chat-base"] pre');
        if ((pre?.textContent ?? '').length <= 3) return false;
        const max = document.getElementById('pg-max') as HTMLInputElement;
        max.value = '1';
        max.dispatchEvent(new Event('input', { bubbles: true }));
        return true;
      },
      null,
      { timeout: 120_000 },
    );
    assert.equal(await page.getByLabel('Max new tokens').inputValue(), '1');
    await done('base', 1);
    await done('adapted', 1);
    for (const side of ['base', 'adapted']) {
      const meta = (await page.getByTestId(`chat-${side}`).getByTestId('reply-meta').textContent()) ?? '';
      assert.match(
        meta,
        /^(hit the token limit · 200 tokens|filled the model's context · \d{3} tokens) · /,
        `${side}: ${meta}`,
      );
    }
    await page.getByLabel('Max new tokens').fill('8');
    await page.getByLabel('Base model side by side').uncheck();
    await page.getByRole('button', { name: 'New chat' }).click();
  });

  test('Stop side by side before the adapted side’s turn: that side was not asked, nor remembers it', async () => {
    // Left by the test before: pirate A on, side by side off, a new chat.
    await page.getByLabel('Base model side by side').check();
    await page.getByLabel('Temperature').fill('0');
    await page.getByLabel('Max new tokens').fill('200');
    await page.getByLabel('Message', { exact: true }).fill('Ahoy, tell me of the sea.');
    await page.getByLabel('Message', { exact: true }).press('Control+Enter');
    // The base side is writing, the adapted one waits for its turn.
    await pressStopOnceShown();
    const adapted = page.getByTestId('chat-adapted');
    // Bug: 'stopped' with empty text, as if it had been asked and stopped.
    await adapted.getByText('(not asked on this side)').waitFor();
    assert.equal(await adapted.getByTestId('reply-meta').count(), 0);
    await page.getByLabel('Max new tokens').fill('16');
    await page.getByLabel('Message', { exact: true }).fill('Still there?');
    await page.getByLabel('Message', { exact: true }).press('Control+Enter');
    await done('base', 2);
    await done('adapted', 1);
    const shown = await adapted.getByTestId('playground-output').textContent();
    // Bug: the unasked answer went into the adapted side's history as an empty assistant turn.
    const { modelId } = await demoIds(client);
    const pirateA = ((await rpc(client, 'adapters/list', {})) as { id: number; name: string }[]).find(
      (a) => a.name === 'pirate A',
    );
    const system = { role: 'system', content: await page.getByLabel('System prompt').inputValue() };
    const asked = {
      modelId,
      adapters: [{ id: pirateA?.id, scale: 1.5, enabled: true }],
      temperature: 0,
      maxNewTokens: 16,
    };
    const alone = await rpc(client, 'generate/run', {
      ...asked,
      messages: [system, { role: 'user', content: 'Still there?' }],
    });
    const withEmpty = await rpc(client, 'generate/run', {
      ...asked,
      messages: [
        system,
        { role: 'user', content: 'Ahoy, tell me of the sea.' },
        { role: 'assistant', content: '' },
        { role: 'user', content: 'Still there?' },
      ],
    });
    assert.notEqual(
      alone.text,
      withEmpty.text,
      'the empty turn changes the answer (else this proves nothing)',
    );
    assert.equal(shown, alone.text);
    await page.getByLabel('Max new tokens').fill('8');
    await page.getByLabel('Base model side by side').uncheck();
    await page.getByRole('button', { name: 'New chat' }).click();
  });

  test('Stop while the model loads: the reply says stopped, not that generation failed', async () => {
    // A model not loaded yet, so that Stop, pressed at once, comes while the request still runs
    // (the tiny demo model, loaded, writes its whole context before a click could come).
    const gpt2 = fileURLToPath(new URL('../fixtures/golden/models/gpt2', import.meta.url));
    const added = await rpc(client, 'models/add', { path: gpt2 });
    const model = page.getByLabel('Model', { exact: true });
    await model.locator('option', { hasText: added.name }).waitFor({ state: 'attached' });
    await model.selectOption({ label: added.name });
    await page.getByLabel('Max new tokens').fill('200');
    await page.getByLabel('Message', { exact: true }).fill('Tell me a long story.');
    await page.getByLabel('Message', { exact: true }).press('Control+Enter');
    await pressStopOnceShown();
    await page.getByLabel('Max new tokens').fill('8');
    // The engine answers one request at a time: once the next message is answered, the stopped
    // request's own ending (its cancellation) has reached the page too.
    await page.getByLabel('Message', { exact: true }).fill('Still there?');
    await page.getByLabel('Message', { exact: true }).press('Control+Enter');
    await done('base', 2);
    const reply = page.getByTestId('chat-base').locator('li.assistant').first();
    // Bug: 'failed', and an alert "Generation failed. generation cancelled" under the reply.
    assert.match((await reply.getByTestId('reply-meta').textContent()) ?? '', /^stopped · seed 42$/);
    assert.equal(await page.getByRole('alert').count(), 0);
    await page.getByRole('button', { name: 'New chat' }).click();
    await model.selectOption({ label: DEMO_MODEL });
    await rpc(client, 'models/remove', { id: added.id });
  });

  test('a model removed from the library is not kept chosen', async () => {
    const gpt2 = fileURLToPath(new URL('../fixtures/golden/models/gpt2', import.meta.url));
    const model = page.getByLabel('Model', { exact: true });
    const chosenIs = (name: string) =>
      page.waitForFunction(
        (n) =>
          (document.getElementById('pg-model') as HTMLSelectElement | null)?.selectedOptions[0]?.text === n,
        name,
      );
    // Removed while the page is closed (the Models page): the first model is chosen on return.
    let added = await rpc(client, 'models/add', { path: gpt2 });
    await page.getByTestId('nav-runs').click();
    await page.getByTestId('nav-playground').click();
    await model.selectOption({ label: added.name });
    await page.getByTestId('nav-runs').click();
    await page.getByRole('heading', { level: 1, name: 'Runs' }).waitFor();
    await rpc(client, 'models/remove', { id: added.id });
    await page.getByTestId('nav-playground').click();
    await chosenIs(DEMO_MODEL);
    // Added and removed while it is open: the list follows the library.
    added = await rpc(client, 'models/add', { path: gpt2 });
    await model.locator('option', { hasText: added.name }).waitFor({ state: 'attached' });
    await model.selectOption({ label: added.name });
    await rpc(client, 'models/remove', { id: added.id });
    await chosenIs(DEMO_MODEL);
    assert.equal(await model.locator('option', { hasText: added.name }).count(), 0);
  });

  test('an adapter deleted while switched on leaves the composition with a word', async () => {
    const { adapterId } = await trainedOnDemo(client, {
      maxSteps: 1,
      batchSize: 2,
      rank: 2,
      layers: '1',
      positions: 'l1',
      name: 'short-lived',
    });
    await page.getByRole('checkbox', { name: 'short-lived' }).check();
    await page.getByLabel('Strength of short-lived').fill('2');
    await page
      .getByTestId('chat-adapted')
      .getByRole('heading', { name: /short-lived ×2\.00$/ })
      .waitFor();
    await rpc(client, 'adapters/remove', { id: adapterId });
    await page
      .getByText('“short-lived” was deleted from the library; the chat goes on without it.')
      .waitFor();
    await page.getByTestId('chat-adapted').getByRole('heading', { name: 'With pirate A ×1.50' }).waitFor();
    assert.equal(await page.getByRole('checkbox', { name: 'short-lived' }).count(), 0);
    await page.getByRole('button', { name: 'Dismiss error' }).click();
  });

  test('an adapter trained on plain prompts: the page says how to ask it as trained, and its link does', async () => {
    const { adapterId } = await trainedOnDemo(client, {
      maxSteps: 1,
      batchSize: 2,
      rank: 2,
      layers: '1',
      positions: 'l1',
      chatTemplate: 'none',
      name: 'plain-trained',
    });
    const note = page.getByTestId('prompt-format-note');
    const plain = page.getByRole('checkbox', { name: /^Plain prompt/ });
    await page.getByRole('checkbox', { name: 'plain-trained' }).check();
    await note
      .getByText(
        '“plain-trained” was trained on plain prompts, without the chat template: tick “Plain prompt” to ask as in training.',
      )
      .waitFor();
    // Plain: now pirate A (trained through the chat template) is the one asked otherwise.
    await plain.check();
    await note
      .getByText(
        '“pirate A” was trained through the chat template: untick “Plain prompt” to ask as in training.',
      )
      .waitFor();
    await page.getByRole('checkbox', { name: 'pirate A' }).uncheck();
    await note.waitFor({ state: 'detached' });
    // Opened from its link, it is asked as it was trained.
    await page.getByRole('checkbox', { name: 'plain-trained' }).uncheck();
    await plain.uncheck();
    await page.goto(`${server?.url}#/playground/adapter/${adapterId}`);
    await page.waitForFunction(() => location.hash === '#/playground');
    assert.equal(await plain.isChecked(), true);
    assert.equal(await page.getByRole('checkbox', { name: 'plain-trained' }).isChecked(), true);
    assert.equal(await note.count(), 0);
  });

  test('a plain prompt is sent as typed, trailing space included, as generate --prompt sends it', async () => {
    // Left by the test before: Plain prompt ticked, the plain-trained adapter on.
    await page.getByRole('checkbox', { name: 'plain-trained' }).uncheck();
    await page.getByLabel('Temperature').fill('0');
    await page.getByLabel('Max new tokens').fill('8');
    const typed = 'Once upon a time ';
    await page.getByLabel('Message', { exact: true }).fill(typed);
    await page.getByLabel('Message', { exact: true }).press('Control+Enter');
    await done('base', 1);
    const shown = await page.getByTestId('chat-base').getByTestId('playground-output').textContent();
    const { modelId } = await demoIds(client);
    const asked = { modelId, chat: false, temperature: 0, maxNewTokens: 8 };
    const asTyped = await rpc(client, 'generate/run', { ...asked, prompt: typed });
    const trimmed = await rpc(client, 'generate/run', { ...asked, prompt: typed.trim() });
    assert.notEqual(asTyped.text, trimmed.text, 'the space changes the answer (else this proves nothing)');
    // Bug: the page trimmed it, and answered as for 'Once upon a time'.
    assert.equal(shown, asTyped.text);
    await page.getByRole('checkbox', { name: /^Plain prompt/ }).uncheck();
    await page.getByRole('button', { name: 'New chat' }).click();
  });

  test('Stop at: the answer ends before the text, as generate --stop ends it', async () => {
    const typed = 'Once upon a time';
    const { modelId } = await demoIds(client);
    const asked = { modelId, prompt: typed, chat: false, temperature: 0, maxNewTokens: 8 };
    const full = (await rpc(client, 'generate/run', asked)).text as string;
    // Two characters from the middle of the answer, written as the field takes them.
    const stop = [...full].slice(2, 4).join('');
    assert.equal(stop.length, 2, full);
    await page.getByRole('checkbox', { name: /^Plain prompt/ }).check();
    await page.getByLabel('Temperature').fill('0');
    await page.getByLabel('Max new tokens').fill('8');
    await page
      .getByLabel('Stop at')
      .fill(`never there\n${stop.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')}`);
    await page.getByLabel('Message', { exact: true }).fill(typed);
    await page.getByLabel('Message', { exact: true }).press('Control+Enter');
    await done('base', 1);
    const side = page.getByTestId('chat-base');
    assert.equal(
      await side.getByTestId('playground-output').textContent(),
      full.slice(0, full.indexOf(stop)),
    );
    assert.match((await side.getByTestId('reply-meta').textContent()) ?? '', /^reached a stop text · /);
    // Past the limits, the field says so and nothing is sent.
    await page.getByLabel('Message', { exact: true }).fill(typed);
    await page.getByLabel('Stop at').fill('x'.repeat(201));
    await page
      .getByTestId('sampling-problems')
      .getByText('Stop at: each text must be at most 200 characters.')
      .waitFor();
    assert.equal(await page.getByRole('button', { name: 'Send' }).isDisabled(), true);
    await page.getByLabel('Stop at').fill('');
    await page.getByLabel('Message', { exact: true }).fill('');
    await page.getByRole('checkbox', { name: /^Plain prompt/ }).uncheck();
    await page.getByRole('button', { name: 'New chat' }).click();
  });

  test('a link to an adapter deleted since says so', async () => {
    await page.goto(`${server?.url}#/playground/adapter/9999`);
    await page.getByText('No adapter with id 9999 in the library (deleted?).').waitFor();
    await page.waitForFunction(() => location.hash === '#/playground');
  });

  test('no page errors were thrown', () => {
    assert.deepEqual(pageErrors, []);
  });
});
