// models/hub-status says what is wrong with the Hub settings by the setting that is wrong: an
// HF_ENDPOINT that is no http(s) URL came back as `tokenError` with `tokenSet: true` (the handler's
// catch took every refusal for the token's), so the Models page blamed a token nobody had set.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { tempDir } from '../helpers/temp.ts';

const saved = { ...process.env };
let b: Backend;

interface HubStatus {
  endpoint: string;
  endpointError: string | null;
  tokenSet: boolean;
  tokenError: string | null;
}

async function status(env: { HF_ENDPOINT?: string; HF_TOKEN?: string }): Promise<HubStatus> {
  for (const k of ['HF_ENDPOINT', 'HF_TOKEN'] as const) {
    if (env[k] === undefined) delete process.env[k];
    else process.env[k] = env[k];
  }
  const r = await b.handle({ type: 'request', id: 1, method: 'models/hub-status', params: {} });
  if (r.type === 'error') throw new Error(r.error.message);
  const { endpoint, endpointError, tokenSet, tokenError } = r.result as HubStatus;
  return { endpoint, endpointError, tokenSet, tokenError };
}

before(() => {
  const home = tempDir('reft-hub-status-');
  // No token file where huggingface_hub would keep one.
  process.env.HF_HOME = join(home, 'hf');
  delete process.env.HF_TOKEN_PATH;
  delete process.env.HUGGING_FACE_HUB_TOKEN;
  delete process.env.HF_TOKEN;
  b = createBackend(join(home, 'studio'), { seedDemo: false });
});

after(async () => {
  await b.close();
  process.env = saved;
});

const BAD_ENDPOINT = 'HF_ENDPOINT must be an http(s) URL such as https://huggingface.co (got "notaurl")';
const BAD_TOKEN = 'HF_TOKEN does not look like a Hugging Face access token (they start with "hf_")';

it('an HF_ENDPOINT that is no URL is the endpoint’s error, not a token’s', async () => {
  assert.deepEqual(await status({ HF_ENDPOINT: 'notaurl' }), {
    endpoint: 'notaurl',
    endpointError: BAD_ENDPOINT,
    tokenSet: false,
    tokenError: null,
  });
});

it('a token that is no token is the token’s error; both wrong, both said', async () => {
  assert.deepEqual(await status({ HF_ENDPOINT: 'http://127.0.0.1:9/', HF_TOKEN: 'abc' }), {
    endpoint: 'http://127.0.0.1:9',
    endpointError: null,
    tokenSet: true,
    tokenError: BAD_TOKEN,
  });
  assert.deepEqual(await status({ HF_ENDPOINT: 'notaurl', HF_TOKEN: 'abc' }), {
    endpoint: 'notaurl',
    endpointError: BAD_ENDPOINT,
    tokenSet: true,
    tokenError: BAD_TOKEN,
  });
  assert.deepEqual(await status({ HF_TOKEN: 'hf_ok' }), {
    endpoint: 'https://huggingface.co',
    endpointError: null,
    tokenSet: true,
    tokenError: null,
  });
});
