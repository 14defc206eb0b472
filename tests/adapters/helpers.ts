// Shared set-up for the adapter-library tests: temp libraries, copies of fixture folders, a model
// of another hidden size, and a snapshot of everything an import could leave behind.

import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Library, openLibrary } from '../../electron/backend/library/library.ts';
import { encodeSafetensors, type TensorToWrite } from '../../native-runtime/formats/safetensors.ts';
import { MODELS, REFT } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

export const LLAMA = join(MODELS, 'llama');
/** LoReFT, layers 1 and 2, f2+l2 untied: four interventions with trained values. */
export const F2L2 = join(REFT, 'llama-loreft-f2l2', 'pyreft_final');
export const F2L2_BIN = 'intkey_layer_2_comp_block_output_unit_pos_nunit_1#1.bin';

/** A temp folder removed when the test file's process exits. */
export function tmp(prefix: string): string {
  return tempDir(`reft-ad-${prefix}-`);
}

export function openTempLibrary(): Library {
  return openLibrary(join(tmp('lib'), 'data'), { seedDemo: false });
}

export function copyFolder(src: string): string {
  const dst = join(tmp('src'), 'pyreft');
  cpSync(src, dst, { recursive: true });
  return dst;
}

/** A Llama folder like the fixture but with another hidden size (zero weights; shapes are what count). */
export function modelWithHidden(hidden: number): string {
  const dir = join(tmp('model'), `llama-h${hidden}`);
  mkdirSync(dir, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(LLAMA, 'config.json'), 'utf8'));
  const inter = hidden * 2;
  const head = cfg.head_dim as number;
  Object.assign(cfg, { hidden_size: hidden, intermediate_size: inter, num_attention_heads: hidden / head });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
  const V = cfg.vocab_size as number;
  const kv = (cfg.num_key_value_heads as number) * head;
  const t = (...shape: number[]): TensorToWrite => ({
    dtype: 'F32',
    shape,
    data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
  });
  const w: Record<string, TensorToWrite> = {
    'lm_head.weight': t(V, hidden),
    'model.embed_tokens.weight': t(V, hidden),
    'model.norm.weight': t(hidden),
  };
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    Object.assign(w, {
      [`${p}input_layernorm.weight`]: t(hidden),
      [`${p}post_attention_layernorm.weight`]: t(hidden),
      [`${p}mlp.down_proj.weight`]: t(hidden, inter),
      [`${p}mlp.gate_proj.weight`]: t(inter, hidden),
      [`${p}mlp.up_proj.weight`]: t(inter, hidden),
      [`${p}self_attn.q_proj.weight`]: t(hidden, hidden),
      [`${p}self_attn.k_proj.weight`]: t(kv, hidden),
      [`${p}self_attn.v_proj.weight`]: t(kv, hidden),
      [`${p}self_attn.o_proj.weight`]: t(hidden, hidden),
    });
  }
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(w, { format: 'pt' }));
  return dir;
}

/** Adapter rows and the files under <data>/adapters: what a failed import must leave unchanged. */
export function librarySnapshot(lib: Library): { rows: unknown[]; tags: unknown[]; files: string[] } {
  const root = join(lib.dataDir, 'adapters');
  const files: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      if (f.isDirectory()) walk(join(d, f.name), `${rel}${f.name}/`);
      else files.push(`${rel}${f.name}`);
    }
  };
  if (existsSync(root)) walk(root, '');
  return {
    rows: lib.db.prepare('SELECT * FROM adapters ORDER BY id').all(),
    tags: lib.db.prepare('SELECT * FROM adapter_tags ORDER BY adapter_id, tag').all(),
    files: files.sort(),
  };
}
