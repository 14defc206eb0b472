// Paths of files on the backend's machine named by an RPC client: exact (absolute, no '..'), since a
// window cannot know the server's working folder.

import { isAbsolute, resolve } from 'node:path';
import { ValidationError } from '../../../native-runtime/errors.ts';

export function checkSourcePath(path: string): string {
  if (path.includes('\0')) throw new ValidationError('bad-path', 'the path contains a NUL character');
  const shown = path.length > 200 ? `${path.slice(0, 200)}…` : path;
  if (path.split(/[\\/]+/).includes('..')) {
    throw new ValidationError(
      'bad-path',
      `${shown}: paths with ".." are not accepted; give the absolute path`,
    );
  }
  if (!isAbsolute(path)) throw new ValidationError('bad-path', `${shown}: not an absolute path`);
  return resolve(path);
}
