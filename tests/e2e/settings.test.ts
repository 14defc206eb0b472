// End-to-end: the Settings page's engine, data-folder and Hugging Face sections against the real
// `reft-studio serve` in Chromium: the device list (CPU, automatic, and each provider with why it is
// unavailable), threads kept across a reload, a token saved write-only and removed, a bad cache folder
// refused in words; the CUDA runtime installed from a downloaded package (the fake providers of
// tests/fixtures/cuda-pack) and removed, and followed when the CLI removes or installs it; on a machine with two NVIDIA GPUs (a stand-in nvidia-smi on
// the server's PATH) the GPU for CUDA chosen and kept. Screenshots under tests/e2e/screenshots/.

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus as logicalCpus } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { automaticThreads } from '../../native-runtime/runtime/cpu-threads.ts';
import { type RpcClient, runCli } from '../backend/helpers.ts';
import { tempDir } from '../helpers/temp.ts';
import {
  closeStudio,
  connected,
  ensureRendererBuilt,
  holdRpcMethod,
  launchBrowser,
  openPage,
  rpc,
  rpcFor,
  type Served,
  screenshot,
  skip,
  startServer,
  textWhen,
} from './helpers.ts';

const FAKE_PACK = fileURLToPath(new URL('../fixtures/cuda-pack/', import.meta.url));

/** `reft-studio serve` on `dataDir` (with `env` added) and Chromium on its Settings page. */
async function openSettings(
  dataDir: string,
  width: number,
  env: NodeJS.ProcessEnv = {},
): Promise<{ server: Served; browser: Browser; page: Page }> {
  ensureRendererBuilt();
  const server = await startServer(dataDir, [], env);
  const browser = await launchBrowser();
  const page = await openPage(browser, {
    viewport: { width, height: 700 },
    timeout: 30_000,
    url: `${server.url}#/settings`,
  });
  return { server, browser, page };
}

describe('Settings (reft-studio serve + Chromium)', { skip, timeout: 300_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const dataDir = tempDir('reft-e2e-settings-');

  before(async () => {
    ({ server, browser, page } = await openSettings(dataDir, 1000));
  });

  after(() => closeStudio({ browser, server }));

  test('device and threads, saved and kept across a reload', async () => {
    const device = page.getByLabel('Device', { exact: true });
    await device.locator('option', { hasText: /^Automatic \(now: / }).waitFor({ state: 'attached' });
    assert.equal(await device.inputValue(), 'cpu');
    // What automatic means on this computer (runtime/cpu-threads.ts, the same machine as the server).
    const auto = automaticThreads();
    await page
      .getByText(
        auto ? `0 = automatic: ${auto} here, one per core` : '0 = automatic: one per core, as ONNX Runtime',
      )
      .waitFor();
    await page.getByLabel('CPU threads').fill('2');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    // Said in the Engine section, in view beside Save (it was at the page's foot, below the window).
    const note = page.getByRole('region', { name: 'Engine' }).getByTestId('engine-saved');
    assert.equal(
      await textWhen(note, /^Engine settings saved\./),
      'Engine settings saved. They apply to models loaded from now on.',
    );
    assert.ok(
      await note.evaluate((el) => el.getBoundingClientRect().bottom <= innerHeight),
      'the note is in view',
    );
    await page.reload();
    await connected(page);
    await page.getByTestId('settings-data-dir').getByText(dataDir).waitFor();
    await page.waitForFunction(
      () => (document.getElementById('set-threads') as HTMLInputElement | null)?.value === '2',
    );
  });

  test('a cleared threads field saves as automatic, not as a refusal', async () => {
    await page.getByLabel('CPU threads').fill('');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByTestId('engine-saved').getByText('Engine settings saved.', { exact: false }).waitFor();
    assert.equal(await page.getByRole('alert').count(), 0);
    assert.equal(await page.getByLabel('CPU threads').inputValue(), '0');
  });

  test('a stored device that cannot run here says why and that the CPU runs instead', async (t) => {
    const client = await rpcFor((server as Served).url);
    try {
      const cuda = (await rpc(client, 'system/devices')).providers.find(
        (p: { name: string }) => p.name === 'cuda',
      );
      if (cuda.state === 'available') return t.skip('CUDA runs on this machine');
      // Chosen on another machine, or before the GPU went away.
      await rpc(client, 'settings/environment-set', { device: 'cuda' });
      await page.reload();
      await connected(page);
      // Bug: the note said only why, not that runs go on, on the CPU.
      const note = page.getByRole('region', { name: 'Engine' }).getByRole('alert');
      assert.equal(
        await textWhen(note.locator('.msg'), /^NVIDIA GPU \(CUDA\) is not available here/),
        `NVIDIA GPU (CUDA) is not available here: ${cuda.reason}. Until it is, training and generation run on the CPU.`,
      );
      // One this system's ONNX Runtime does not have at all (DirectML off Windows, Core ML there):
      // bug: not in the devices report, so not listed, and the select showed blank.
      const absent = process.platform === 'win32' ? 'coreml' : 'dml';
      await rpc(client, 'settings/environment-set', { device: absent });
      await page.reload();
      await connected(page);
      await page.getByText(/^(GPU \(DirectML\)|Apple \(Core ML\)) is not available here/).waitFor();
      assert.equal(await page.getByLabel('Device', { exact: true }).inputValue(), absent);
      assert.match(
        (await note.locator('.msg').textContent()) ?? '',
        /is not available here: ONNX Runtime has no .* provider here \(.*\)\. Until it is, training and generation run on the CPU\.$/,
      );
      await rpc(client, 'settings/environment-set', { device: 'cpu' });
      await page.reload();
      await connected(page);
    } finally {
      client.close();
    }
  });

  test('a stored GPU stays chosen, as being checked, while the devices load; a save then keeps it', async () => {
    // A page of its own whose 'system/devices' requests are held back, as a busy machine's probe is
    // (16 s seen). Bug: the select offered only the CPU and Automatic meanwhile, so a stored CUDA
    // showed as a blank select (no option chosen), and fixing that by hand stored another device.
    const client = await rpcFor((server as Served).url);
    const own = await openPage(browser as Browser, { viewport: { width: 1000, height: 700 } });
    const { held, release } = await holdRpcMethod(own, 'system/devices');
    const before = await rpc(client, 'settings/environment');
    try {
      await rpc(client, 'settings/environment-set', { device: 'cuda' });
      await own.goto(`${(server as Served).url}#/settings`);
      await connected(own);
      await own.getByTestId('settings-data-dir').waitFor();
      assert.ok(held.length > 0, 'the page asked for the devices');
      const device = own.getByLabel('Device', { exact: true });
      assert.equal(await device.inputValue(), 'cuda');
      assert.equal(
        await device.locator('option[value="cuda"]').textContent(),
        'NVIDIA GPU (CUDA) (checking…)',
      );
      await own
        .getByText('Checking which GPUs run here… NVIDIA GPU (CUDA) stays chosen meanwhile.')
        .waitFor();
      // Saved meanwhile (another field changed): the stored GPU is kept.
      await own.getByLabel('CPU threads').fill('3');
      await own.getByRole('button', { name: 'Save', exact: true }).click();
      await own.getByTestId('engine-saved').waitFor();
      assert.equal((await rpc(client, 'settings/environment')).device, 'cuda');

      // The probe answers: CUDA is listed as it is here, and still chosen.
      release();
      await device.locator('option', { hasText: /^Automatic \(now: / }).waitFor({ state: 'attached' });
      assert.equal(await device.inputValue(), 'cuda');
      assert.match(
        (await device.locator('option[value="cuda"]').textContent()) ?? '',
        /^NVIDIA GPU \(CUDA\)( — unavailable)?$/,
      );
    } finally {
      await own.context().close();
      await rpc(client, 'settings/environment-set', { device: before.device, threads: before.threads });
      client.close();
    }
  });

  test('a token is saved write-only and can be removed; a relative cache folder is refused', async () => {
    await page.getByLabel('Access token').fill('hf_abcdefghijklmnopqr1234');
    await page.getByRole('button', { name: 'Save token' }).click();
    await page.getByTestId('token-status').getByText('A token ending in …1234 is set here.').waitFor();
    assert.equal(await page.getByLabel('Access token').inputValue(), '');
    await screenshot(page, 'settings-1-engine-hub');
    await page.getByRole('button', { name: 'Remove' }).click();
    await page.getByTestId('token-status').getByText('No token: public models only.').waitFor();
    await page.getByLabel('Cache folder').fill('relative/cache');
    await page.getByRole('button', { name: 'Save folder' }).click();
    await page
      .getByRole('region', { name: 'Hugging Face' })
      .getByRole('alert')
      .getByText(/must be a full path/)
      .waitFor();
  });

  test('the CUDA runtime installs from a downloaded package with progress, says what it still needs, and is removed', {
    skip: process.platform !== 'linux' || process.arch !== 'x64' ? 'the CUDA pack is Linux x64 only' : false,
  }, async () => {
    const card = page.getByTestId('cuda-runtime');
    // A file that is no package: refused with why, in the window's words (no CLI command or flag).
    const notPackage = join(tempDir('downloads-'), 'provider.nupkg');
    writeFileSync(notPackage, 'not a package');
    await card.getByLabel('Or from a downloaded package').fill(notPackage);
    // The button is level with the path it installs from (it sat 20 px lower, by the help text).
    const middles = await Promise.all(
      [
        card.getByLabel('Or from a downloaded package'),
        card.getByRole('button', { name: 'Install from it' }),
      ].map(async (l) => (await l.boundingBox())?.y ?? Number.NaN),
    );
    assert.ok(Math.abs(middles[0] - middles[1]) <= 4, `the input and its button are level (${middles})`);
    await card.getByRole('button', { name: 'Install from it' }).click();
    const refusal = `${notPackage} is neither a zip/.nupkg nor a .tgz (unpack it and pass the folder)`;
    assert.equal(await textWhen(card.getByRole('alert').locator('.msg'), refusal), refusal);
    await screenshot(page, 'settings-2a-cuda-not-a-package');
    await card.getByRole('button', { name: 'Dismiss error' }).click();
    await card.getByLabel('Or from a downloaded package').fill(FAKE_PACK);
    await card.getByRole('button', { name: 'Install from it' }).click();
    await card.getByText('Installed. New training and generation use it').waitFor({ timeout: 60_000 });
    await card
      .getByTestId('cuda-pack')
      .getByText(/ONNX Runtime [\d.]+, for CUDA 12/)
      .waitFor();
    // The fake provider needs CUDA 12 and cuDNN 9, which this machine lacks: each with where to get it.
    await card.getByTestId('cuda-missing').getByText('libcudart.so.12').waitFor();
    assert.equal(await card.getByRole('alert').count(), 0);
    await screenshot(page, 'settings-2-cuda-runtime');
    // The command line removes it, then installs it again, while the card is open: the card follows
    // each within seconds, untouched (it kept showing the pack until reloaded or its Remove refused).
    const status = card.getByTestId('cuda-status');
    assert.equal((await runCli(['runtime', 'remove', 'cuda', '--data-dir', dataDir])).code, 0);
    assert.equal(await textWhen(status, /^Removed/), 'Removed by another program.');
    await card.getByRole('button', { name: 'Download and install' }).waitFor();
    const again = ['runtime', 'install', 'cuda', '--from', FAKE_PACK, '--data-dir', dataDir];
    assert.equal((await runCli(again)).code, 0);
    assert.match(await textWhen(status, /^Installed/), /^Installed by another program\. New training/);
    await card.getByTestId('cuda-pack').waitFor();
    // Removed here, it is said plainly.
    await card.getByRole('button', { name: 'Remove' }).click();
    assert.equal(await textWhen(status, /^Removed\.$/), 'Removed.');
    await card.getByRole('button', { name: 'Download and install' }).waitFor();
    assert.equal(await card.getByRole('alert').count(), 0);
  });

  test('more CPU threads than logical CPUs is allowed, and said to usually make training slower', async () => {
    // The count the page and `reft-studio devices` give (os.cpus(), the same machine as the server).
    const cpus = logicalCpus().length;
    const many = page.getByTestId('threads-too-many');
    await page.getByLabel('CPU threads').fill(String(cpus));
    assert.equal(await many.isVisible(), false);
    await page.getByLabel('CPU threads').fill(String(cpus + 1));
    assert.equal(
      await textWhen(many, /slower/),
      `${cpus + 1} threads on ${cpus} logical CPUs: more threads than CPUs usually makes training slower.`,
    );
    await page.getByLabel('CPU threads').fill('0');
    await many.waitFor({ state: 'hidden' });
  });
});

describe('The CUDA runtime in two tabs: Cancel midway, then installed', {
  skip:
    skip ||
    (process.platform !== 'linux' || process.arch !== 'x64' ? 'the CUDA pack is Linux x64 only' : false),
  timeout: 300_000,
}, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let client: RpcClient | undefined;
  const tabs: Page[] = [];
  // A NuGet server whose package download stops half-way and never ends: an install to cancel.
  const held: ServerResponse[] = [];
  const nuget = createServer((req, res) => {
    const url = req.url ?? '';
    const base = `http://127.0.0.1:${(nuget.address() as AddressInfo).port}`;
    const id = 'microsoft.ml.onnxruntime.gpu.linux';
    const json = (o: unknown) => res.setHeader('content-type', 'application/json').end(JSON.stringify(o));
    if (url.startsWith(`/reg/${id}/`))
      json({ catalogEntry: `${base}/catalog.json`, packageContent: `${base}/flat/${id}.nupkg` });
    else if (url === '/catalog.json')
      json({ packageHash: 'x', packageHashAlgorithm: 'SHA512', packageSize: 1 << 20 });
    else if (url.startsWith('/flat/')) {
      res.writeHead(200, { 'content-length': 1 << 20 });
      res.write(Buffer.alloc(1 << 19));
      held.push(res);
    } else res.writeHead(404).end();
  });
  const dataDir = tempDir('reft-e2e-settings-cancel-');

  before(async () => {
    await new Promise<void>((r) => nuget.listen(0, '127.0.0.1', r));
    const port = (nuget.address() as AddressInfo).port;
    ({
      server,
      browser,
      page: tabs[0],
    } = await openSettings(dataDir, 1000, {
      REFT_STUDIO_NUGET_SOURCE: `http://127.0.0.1:${port}/reg/`,
    }));
    tabs[1] = await openPage(browser, {
      viewport: { width: 1000, height: 700 },
      url: `${server.url}#/settings`,
    });
    client = await rpcFor(server.url);
  });

  after(async () => {
    for (const res of held) res.destroy();
    nuget.close();
    await closeStudio({ client, browser, server });
  });

  test('both tabs follow it; Cancel is said as such, a note from before gives way, the next install works', async () => {
    const [a, b] = tabs.map((t) => t.getByTestId('cuda-runtime'));
    // Tab B's last install failed: its note is about that one.
    const notPackage = join(tempDir('downloads-'), 'provider.nupkg');
    writeFileSync(notPackage, 'not a package');
    await b.getByLabel('Or from a downloaded package').fill(notPackage);
    await b.getByRole('button', { name: 'Install from it' }).click();
    await b.getByRole('alert').waitFor();

    await a.getByRole('button', { name: 'Download and install' }).click();
    for (const card of [a, b])
      await card
        .getByTestId('cuda-progress')
        .getByText(/^Downloading/)
        .waitFor();
    // Bug: B's old failure stayed beside the new install's progress (and later beside "Installed.").
    assert.equal(await b.getByRole('alert').count(), 0, 'the old note gives way in the other tab');
    await screenshot(tabs[1], 'settings-4-cuda-second-tab');
    // A tab opened now hears no report (the download is held): the devices report shows the install.
    // Bug: such a tab showed no install until its next progress report.
    const late = await openPage(browser as Browser, {
      viewport: { width: 1000, height: 700 },
      url: `${server?.url}#/settings`,
    });
    await late
      .getByTestId('cuda-runtime')
      .getByTestId('cuda-progress')
      .getByText(/^Downloading/)
      .waitFor({ timeout: 10_000 });
    await late.close();

    await a.getByRole('button', { name: 'Cancel' }).click();
    // Bug: "The CUDA runtime could not be installed. runtime install cancelled; …", an error in the
    // CLI's words, for what the person asked for.
    for (const card of [a, b]) {
      await card.getByTestId('cuda-status').getByText('Cancelled. Nothing was installed.').waitFor();
      assert.equal(await card.getByRole('alert').count(), 0);
      assert.equal(await card.getByTestId('cuda-progress').count(), 0);
    }
    assert.deepEqual(await rpc(client as RpcClient, 'system/runtime-list'), []);

    await b.getByLabel('Or from a downloaded package').fill(FAKE_PACK);
    await b.getByRole('button', { name: 'Install from it' }).click();
    for (const card of [a, b]) {
      await card.getByText('Installed. New training and generation use it').waitFor({ timeout: 60_000 });
      assert.equal(await card.getByRole('alert').count(), 0);
    }
    assert.deepEqual(
      (await rpc(client as RpcClient, 'system/runtime-list')).map((p: { name: string }) => p.name),
      ['cuda'],
    );
  });
});

describe('Settings with two NVIDIA GPUs (a stand-in nvidia-smi)', { skip, timeout: 300_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const dataDir = tempDir('reft-e2e-settings-gpus-');

  const bin = join(dataDir, 'bin');
  /** The stand-in nvidia-smi on the server's PATH, listing these GPUs. */
  const gpusAre = (lines: string[]) => {
    writeFileSync(
      join(bin, 'nvidia-smi'),
      `#!/bin/sh
case "$1" in
  --query-gpu=index*) ${lines.map((l) => `echo "${l}"`).join('; ')};;
  --query-gpu=memory.used*) echo 0;;
  *) echo "| NVIDIA-SMI 580.95.05   Driver Version: 580.95.05   CUDA Version: 13.0 |";;
esac
`,
    );
    chmodSync(join(bin, 'nvidia-smi'), 0o755);
  };
  const RTX3060 = '0, NVIDIA GeForce RTX 3060, 12288, 580.95.05, 8.6';

  before(async () => {
    mkdirSync(bin, { recursive: true });
    gpusAre([RTX3060, '1, NVIDIA GeForce RTX 4090, 24564, 580.95.05, 8.9']);
    ({ server, browser, page } = await openSettings(join(dataDir, 'data'), 1100, {
      PATH: `${bin}:${process.env.PATH}`,
    }));
  });

  after(() => closeStudio({ browser, server }));

  test('the GPU for CUDA: the first by default, another chosen and kept across a reload', async () => {
    const gpu = page.getByLabel('GPU', { exact: true });
    await gpu
      .locator('option', { hasText: 'GPU 1: NVIDIA GeForce RTX 4090 · 24 GiB · compute 8.9' })
      .waitFor({ state: 'attached' });
    assert.deepEqual(await gpu.locator('option').allTextContents(), [
      'The first (GPU 0: NVIDIA GeForce RTX 3060 · 12 GiB · compute 8.6)',
      'GPU 0: NVIDIA GeForce RTX 3060 · 12 GiB · compute 8.6',
      'GPU 1: NVIDIA GeForce RTX 4090 · 24 GiB · compute 8.9',
    ]);
    await gpu.selectOption({ label: 'GPU 1: NVIDIA GeForce RTX 4090 · 24 GiB · compute 8.9' });
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByTestId('engine-saved').getByText('Engine settings saved.', { exact: false }).waitFor();
    await screenshot(page, 'settings-3-gpu');
    await page.reload();
    await connected(page);
    await page.waitForFunction(() => {
      const s = document.getElementById('set-gpu') as HTMLSelectElement | null;
      return s?.selectedOptions[0]?.textContent?.startsWith('GPU 1:');
    });
  });

  test('a chosen GPU that is gone stays visible, says why CUDA cannot run, and can be cleared', async () => {
    // The 4090 taken out, the studio started again on the same library (devices are probed at start).
    await closeStudio({ browser, server });
    gpusAre([RTX3060]);
    ({ server, browser, page } = await openSettings(join(dataDir, 'data'), 1100, {
      PATH: `${bin}:${process.env.PATH}`,
    }));
    const gpu = page.getByLabel('GPU', { exact: true });
    await page.waitForFunction(
      () =>
        (document.getElementById('set-gpu') as HTMLSelectElement | null)?.selectedOptions[0]?.textContent ===
        'GPU 1 (not found)',
    );
    await page.getByText('GPU 1 (REFT_STUDIO_GPU) does not exist: this machine has GPU 0').first().waitFor();
    await gpu.selectOption({ label: 'The first (GPU 0: NVIDIA GeForce RTX 3060 · 12 GiB · compute 8.6)' });
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByTestId('engine-saved').getByText('Engine settings saved.', { exact: false }).waitFor();
    await page.reload();
    await connected(page);
    // One GPU and nothing chosen: no GPU field.
    await page.getByLabel('CPU threads').waitFor();
    await page.getByText('0 = automatic:', { exact: false }).waitFor();
    assert.equal(await page.locator('#set-gpu').count(), 0);
  });
});
