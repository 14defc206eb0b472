// The Electron main process's rules for what the page may ask (ipc-rules.ts), without Electron: who
// may connect or open a picker, what picker options survive, which permissions are granted, where the
// window may navigate and which files app:// serves.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../tests/helpers/temp.ts';
import {
  devServerUrl,
  filePickerOptions,
  folderPickerOptions,
  isStudioOrigin,
  isStudioUrl,
  permissionAllowed,
  rendererFile,
} from './ipc-rules.ts';

test('only the studio’s own page may connect or pick: app://studio, or exactly the dev server', () => {
  assert.equal(isStudioOrigin('app://studio'), true);
  assert.equal(isStudioOrigin('app://studio', 'http://localhost:5173/'), true);
  assert.equal(isStudioOrigin('http://localhost:5173', 'http://localhost:5173/'), true);
  // A prefix of the dev server's URL was enough before ("http://localhost:5" passed).
  assert.equal(isStudioOrigin('http://localhost:5', 'http://localhost:5173/'), false);
  assert.equal(isStudioOrigin('http://localhost:51730', 'http://localhost:5173/'), false);
  for (const o of ['', null, undefined, 'null', 'https://example.com', 'app://studio.evil', 'file://'])
    assert.equal(isStudioOrigin(o), false, String(o));
  assert.equal(isStudioOrigin('http://localhost:5173', 'not a url'), false);
});

test('a dev server is loaded in a development run only, and only an http(s) one', () => {
  const env = { VITE_DEV_SERVER_URL: 'http://localhost:5173/' };
  assert.equal(devServerUrl(env, false), 'http://localhost:5173/');
  // An installed app loaded any page this named and gave it the backend.
  assert.equal(devServerUrl(env, true), undefined);
  assert.equal(devServerUrl({}, false), undefined);
  for (const url of ['', 'not a url', 'file:///tmp/index.html', 'javascript:alert(1)'])
    assert.equal(devServerUrl({ VITE_DEV_SERVER_URL: url }, false), undefined, url);
});

test('the window navigates only within the studio', () => {
  assert.equal(isStudioUrl('app://studio/index.html#/runs/3'), true);
  assert.equal(isStudioUrl('app://studiox/index.html'), false);
  assert.equal(isStudioUrl('app://studio.evil/index.html'), false);
  assert.equal(isStudioUrl('https://example.com/'), false);
  assert.equal(isStudioUrl('file:///etc/passwd'), false);
  assert.equal(isStudioUrl('http://localhost:5173/#/train', 'http://localhost:5173/'), true);
  assert.equal(isStudioUrl('http://localhost:5174/', 'http://localhost:5173/'), false);
  assert.equal(isStudioUrl('garbage'), false);
});

test('picker options: only a one-line title and a create flag survive', () => {
  assert.deepEqual(folderPickerOptions({ title: 'Export into…', create: true }), {
    title: 'Export into…',
    create: true,
  });
  for (const raw of [undefined, null, 'create', 42, [], ['x'], { create: 'yes' }, { create: 1 }])
    assert.deepEqual(
      folderPickerOptions(raw),
      { title: 'Choose a folder', create: false },
      JSON.stringify(raw),
    );
  assert.deepEqual(folderPickerOptions({ title: 'a\nb\u0000c' }).title, 'a b c');
  assert.equal(folderPickerOptions({ title: 'x'.repeat(5000) }).title.length, 200);
  assert.equal(folderPickerOptions({ title: '   ' }).title, 'Choose a folder');
  assert.equal(folderPickerOptions({ title: { toString: () => 'sneaky' } }).title, 'Choose a folder');
  // Inherited or computed fields are not read.
  const proto = Object.create({ create: true, title: 'from the prototype' });
  assert.deepEqual(folderPickerOptions(proto), { title: 'Choose a folder', create: false });
  let touched = false;
  const getter = Object.defineProperty({}, 'title', {
    get: () => {
      touched = true;
      return 'got';
    },
    enumerable: true,
  });
  assert.equal(folderPickerOptions(getter).title, 'Choose a folder');
  assert.equal(touched, false);
  assert.deepEqual(filePickerOptions({ title: 'Import a dataset file', kind: 'dataset' }), {
    title: 'Import a dataset file',
  });
  assert.deepEqual(filePickerOptions(undefined), { title: 'Choose a file' });
});

test('permissions: the clipboard write only', () => {
  assert.equal(permissionAllowed('clipboard-sanitized-write'), true);
  for (const p of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal', 'fileSystem'])
    assert.equal(permissionAllowed(p), false, p);
});

test('app:// serves renderer/dist only: files, the shell for routes, nothing outside', () => {
  const dist = join(tempDir('ipc-rules-'), 'dist');
  mkdirSync(join(dist, 'assets'), { recursive: true });
  writeFileSync(join(dist, 'index.html'), '<!doctype html>');
  writeFileSync(join(dist, 'assets', 'app.js'), '');
  writeFileSync(join(dist, '..', 'secret.txt'), 'TOP SECRET');
  const shell = join(dist, 'index.html');
  assert.equal(rendererFile(dist, 'app://studio/assets/app.js'), join(dist, 'assets', 'app.js'));
  assert.equal(rendererFile(dist, 'app://studio/index.html'), shell);
  assert.equal(rendererFile(dist, 'app://studio/'), shell);
  assert.equal(rendererFile(dist, 'app://studio/runs/3'), shell, 'a client-side route');
  assert.equal(rendererFile(dist, 'app://studio/assets'), shell, 'a folder is not served');
  for (const bad of [
    'app://studio/../secret.txt',
    'app://studio/%2e%2e/secret.txt',
    'app://studio/assets/%2e%2e/%2e%2e/secret.txt',
    'app://studio/%2e%2e%2fsecret.txt',
    'app://studio/%E0%A4%A', // not decodable
    'app://other/index.html',
    'https://studio/index.html',
    'not a url',
  ])
    assert.notEqual(rendererFile(dist, bad), join(dist, '..', 'secret.txt'), bad);
  assert.equal(rendererFile(dist, 'app://studio/%2e%2e%2fsecret.txt'), null);
  assert.equal(rendererFile(dist, 'app://other/index.html'), null);
  assert.equal(rendererFile(dist, 'app://studio/%E0%A4%A'), null);
});
