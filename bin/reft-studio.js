#!/usr/bin/env node
// Launcher for the `reft-studio` command: registers the TypeScript loader (tsx) so the CLI runs
// straight from a fresh clone, then hands over to cli/main.ts.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
