// Typed context helpers: App sets the studio (rpc client + connection) once; pages read it.

import { getContext, setContext } from 'svelte';
import type { RpcClient } from '../rpc/client.ts';
import type { Connection } from './connection.svelte.ts';

export interface Studio {
  rpc: RpcClient;
  connection: Connection;
}

const key = Symbol('studio');

export function setStudioContext(studio: Studio): Studio {
  return setContext(key, studio);
}

export function getStudioContext(): Studio {
  const studio = getContext<Studio | undefined>(key);
  if (!studio) throw new Error('getStudioContext() called outside <App>');
  return studio;
}
