// The Python a person runs to use an exported adapter with pyreft: load the base model, load the
// export with pyreft.ReftModel.load, and generate with the interventions at the same positions the
// studio uses (positions.ts: the first f and last l prompt tokens, each clipped to half the prompt as
// pyreft clips them; untied adapters give the first half of their interventions the prefix and the
// second half the suffix). Written from the adapter's manifest so the numbers are its own.

export interface SnippetInput {
  /** The exported folder (where the zip was unpacked, or the folder written). */
  exportDir: string;
  /** The base model's folder or Hugging Face id. */
  baseModel: string;
  /** 'f1+l1', 'l1', 'f3' … */
  positions: string;
  /** Number of interventions in the adapter. */
  interventions: number;
  shareWeights: boolean;
  /** The manifest's promptTemplate: 'chat' when it was trained through the chat template. */
  promptTemplate: string | null;
  /** The base model's architecture (model_type), when known. */
  arch?: string | null;
}

/** (first, last) of a positions string; (0, 1) when it cannot be read. */
export function parsePositions(text: string): { first: number; last: number } {
  const m = /^(?:f(\d+))?(?:\+?l(\d+))?$/.exec(text.trim());
  if (!m || (m[1] === undefined && m[2] === undefined)) return { first: 0, last: 1 };
  return { first: Number(m[1] ?? 0), last: Number(m[2] ?? 0) };
}

const py = (s: string) => JSON.stringify(s);

export function pyreftSnippet(i: SnippetInput): string {
  const { first, last } = parsePositions(i.positions);
  const untied = first > 0 && last > 0 && !i.shareWeights;
  const n = Math.max(1, i.interventions);
  const chat = i.promptTemplate === 'chat';
  const lines = [
    '# pip install pyreft',
    'import torch, transformers, pyreft',
    '',
    `base = ${py(i.baseModel)}  # the base model's folder or Hugging Face id`,
    'tokenizer = transformers.AutoTokenizer.from_pretrained(base)',
    'model = transformers.AutoModelForCausalLM.from_pretrained(base, torch_dtype=torch.float32)',
    // pyvene maps no Phi-3 class, so ReftModel.load fails on block_output (train-py.ts add_phi3_anchor).
    ...(i.arch === 'phi3'
      ? [
          'import pyvene  # pyvene has no Phi-3 entry: block_output is the output of model.layers[l], as for Llama',
          'pyvene.type_to_module_mapping.setdefault(type(model), {"block_output": ("model.layers[%s]", "register_forward_hook")})',
          'pyvene.type_to_dimension_mapping.setdefault(type(model), {"block_output": ("hidden_size",)})',
        ]
      : []),
    `reft_model = pyreft.ReftModel.load(${py(i.exportDir)}, model)`,
    'reft_model.set_device("cuda" if torch.cuda.is_available() else "cpu")',
    '',
    'question = "Who are you?"',
    chat
      ? 'prompt = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True)  # trained through the chat template'
      : 'prompt = question',
    // A rendered chat template holds its own special tokens (a start token, often): the tokenizer
    // must not add them again, as the studio's prompt ids do not (tokenizer.ts encodeChat).
    chat
      ? 'inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)  # the template holds its special tokens'
      : 'inputs = tokenizer(prompt, return_tensors="pt").to(model.device)',
    'L = inputs["input_ids"].shape[-1]',
    `# positions ${i.positions}: the first ${first} and last ${last} prompt tokens, at most half the prompt each`,
    `f, l = min(${first}, L // 2), min(${last}, L // 2)`,
  ];
  if (untied) {
    lines.push(
      `# untied: the first ${n / 2} interventions read the prefix, the other ${n / 2} the suffix`,
      `locations = [[list(range(f))]] * ${n / 2} + [[list(range(L - l, L))]] * ${n / 2}`,
    );
  } else {
    lines.push(`locations = [[list(range(f)) + list(range(L - l, L))]] * ${n}`);
  }
  lines.push(
    '_, out = reft_model.generate(',
    '    inputs, unit_locations={"sources->base": (None, locations)}, intervene_on_prompt=True,',
    '    max_new_tokens=128, do_sample=False, eos_token_id=tokenizer.eos_token_id,',
    ')',
    'print(tokenizer.decode(out[0][L:], skip_special_tokens=True))',
  );
  return `${lines.join('\n')}\n`;
}
