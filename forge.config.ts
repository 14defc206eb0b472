// Electron Forge configuration, for contributors who use Forge for `electron-forge start/package`.
// Forge's CLI cannot be installed offline here, so the project does not depend on @electron-forge/*:
// the config shape is typed locally below. Packaged releases are built with electron-builder
// (electron-builder.yml), which unpacks native modules from the asar by itself (forge#3738).
// Makers are referenced by package name and resolved by Forge when it is installed.

import { execFileSync } from 'node:child_process';

interface ForgeMakerConfig {
  name: string;
  platforms?: NodeJS.Platform[];
  config?: Record<string, unknown>;
}

interface ForgeConfig {
  packagerConfig: {
    name?: string;
    executableName?: string;
    appBundleId?: string;
    asar?: boolean | { unpack?: string; unpackDir?: string };
    extraResource?: string[];
    ignore?: (RegExp | string)[];
    icon?: string;
  };
  rebuildConfig?: { onlyModules?: string[]; force?: boolean };
  makers: ForgeMakerConfig[];
  hooks?: { generateAssets?: () => Promise<void> };
}

// Other platforms' ONNX Runtime binaries (≈290 MB in all) stay out of each package.
const otherOrtPlatforms = ['darwin', 'linux', 'win32'].filter((p) => p !== process.platform);

const config: ForgeConfig = {
  packagerConfig: {
    name: 'ReFT Studio',
    executableName: 'reft-studio',
    appBundleId: 'dev.reftstudio.app',
    asar: { unpack: '**/{*.node,*.so,*.so.*,*.dylib,*.dll}' },
    extraResource: ['resources/demo'],
    ignore: [
      /^\/(tests|native-runtime\/.*\.test\.ts|renderer\/src|\.ci|\.git|out|test-results)(\/|$)/,
      ...otherOrtPlatforms.map((p) => new RegExp(`^/node_modules/onnxruntime-node/bin/napi-v6/${p}(/|$)`)),
    ],
  },
  rebuildConfig: { onlyModules: ['better-sqlite3'], force: true },
  // `electron-forge start/package` load dist/electron/*.cjs and renderer/dist: build them first, as
  // `npm run dist` does for electron-builder, so a fresh clone does not start a stale or missing bundle.
  hooks: {
    generateAssets: async () => {
      execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { stdio: 'inherit' });
    },
  },
  makers: [
    { name: '@electron-forge/maker-squirrel', platforms: ['win32'], config: { name: 'reft_studio' } },
    { name: '@electron-forge/maker-dmg', platforms: ['darwin'], config: {} },
    { name: '@electron-forge/maker-zip', platforms: ['darwin', 'linux'], config: {} },
    {
      name: '@electron-forge/maker-deb',
      platforms: ['linux'],
      config: { options: { categories: ['Development'] } },
    },
  ],
};

export default config;
