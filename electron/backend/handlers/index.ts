// Every RPC method of the backend, combined from the domain files (a duplicate name throws at load).
// Another engineer adding a domain: write handlers/<domain>.ts, add it here and to rpc/contract.ts.

import { combineHandlers } from '../rpc/define-handlers.ts';
import { adaptersHandlers } from './adapters.ts';
import { datasetsHandlers } from './datasets.ts';
import { devicesHandlers } from './devices.ts';
import { evaluationsHandlers } from './evaluations.ts';
import { filesHandlers } from './files.ts';
import { generateHandlers } from './generate.ts';
import { modelsHandlers } from './models.ts';
import { modelsHubHandlers } from './models-hub.ts';
import { runsHandlers } from './runs.ts';
import { settingsHandlers } from './settings.ts';
import { systemHandlers } from './system.ts';

export const allHandlers = combineHandlers(
  systemHandlers,
  devicesHandlers,
  modelsHandlers,
  modelsHubHandlers,
  datasetsHandlers,
  runsHandlers,
  adaptersHandlers,
  settingsHandlers,
  generateHandlers,
  evaluationsHandlers,
  filesHandlers,
);
