// train.py of the scale-out bundle (bundle.ts): pyreft's public API only, configuration read from
// config.json at run time so the script itself never changes. Imports of torch/transformers/pyreft
// happen inside main(), so the helpers (write_sidecar, representations_for) can be imported and
// tested without them.

export const TRAIN_PY = String.raw`#!/usr/bin/env python3
"""ReFT training exported by ReFT Studio, run with pyreft (https://github.com/stanfordnlp/pyreft).

    pip install pyreft
    torchrun --nproc_per_node N train.py     # N GPUs; Hugging Face's Trainer runs DDP
    python train.py                          # one GPU or CPU
    reft-studio import result/               # back into the studio's adapter library

Reads config.json and data.jsonl next to this file and writes result/: pyreft's own save
(config.json + intkey_*.bin) plus reft_studio.json (base model, positions, dropout, activation, prompt format, precision).
"""
import argparse
import json
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))

INTERVENTIONS = {
    "loreft": "LoreftIntervention",
    "noreft": "NoreftIntervention",
    "direft": "DireftIntervention",
    "nodireft": "NodireftIntervention",
    "consreft": "ConsreftIntervention",
    "lobireft": "LobireftIntervention",
}


def parse_positions(text):
    """'f3+l3' -> (3, 3), 'l1' -> (0, 1), 'f2' -> (2, 0)."""
    first = last = 0
    for part in text.split("+"):
        if part.startswith("f"):
            first = int(part[1:])
        elif part.startswith("l"):
            last = int(part[1:])
        else:
            raise ValueError("bad positions %r" % text)
    return first, last


def is_untied(cfg):
    first, last = parse_positions(cfg["positions"])
    return first > 0 and last > 0 and not cfg["shareWeights"]


def representation_layers(cfg):
    """One intervention per layer; untied prefix+suffix: every prefix one, then every suffix one."""
    layers = list(cfg["layers"])
    return layers + layers if is_untied(cfg) else layers


def add_phi3_anchor(pyvene, model):
    """pyvene maps no Phi-3 class (none up to its commit 9e33390), so pyreft's get_reft_model fails on
    "block_output" for Phi-3 (get_module_hook has no hook for it) and ReftModel.load too (KeyError in
    get_dimension_by_component). Phi-3's decoder layers sit where Llama's do: block_output is the output
    of model.layers[l], the residual stream the studio intervenes on. Registered only for a phi3 model
    and only where pyvene has no entry of its own."""
    if getattr(model.config, "model_type", None) != "phi3":
        return False
    pyvene.type_to_module_mapping.setdefault(type(model), {"block_output": ("model.layers[%s]", "register_forward_hook")})
    pyvene.type_to_dimension_mapping.setdefault(type(model), {"block_output": ("hidden_size",)})
    return True


def sidecar(cfg, chat, precision):
    """What pyreft does not store; chat: whether the prompts went through the chat template, so
    the studio formats prompts for this adapter as it was trained (its promptTemplate); precision:
    what the base model computed in ("bf16" with --bf16, else "fp32"), which the studio's adapters
    record beside their own float32 parameters (dtype)."""
    act = cfg.get("act", "linear")
    return {
        "format": "reft-studio-sidecar",
        "version": 1,
        "positions": cfg["positions"],
        "shareWeights": not is_untied(cfg),
        "dropout": cfg["dropout"],
        "activation": None if act == "linear" else act,
        "promptTemplate": "chat" if chat else None,
        "baseModel": cfg.get("baseModel"),
        "dtype": "float32",
        "precision": precision,
    }


def write_sidecar(out_dir, cfg, tokenizer, rows, precision):
    chat = any(through_chat_template(tokenizer, cfg, r) for r in rows)
    with open(os.path.join(out_dir, "reft_studio.json"), "w") as f:
        f.write(json.dumps(sidecar(cfg, chat, precision), indent=2) + "\n")


def not_carried(cfg):
    """The studio's options this script does not carry out, each with why (printed at the start).
    pyreft's ReftTrainerForCausalLM cannot evaluate: its compute_loss returns the model's output where
    Trainer's evaluation expects a loss (pyreft issue #147), and Hugging Face's
    load_best_model_at_end and EarlyStoppingCallback both need evaluations; nor does it read the
    held-out rows (heldout.jsonl, where the run kept some aside)."""
    why = "pyreft's ReftTrainerForCausalLM cannot evaluate a held-out loss (pyreft issue #147)"
    notes = []
    if cfg.get("keepBest"):
        notes.append("keep the best (load_best_model_at_end): not carried, %s; result/ is the last step's adapter" % why)
    if cfg.get("earlyStoppingPatience", 0) > 0:
        notes.append("early stopping after %d evaluations (EarlyStoppingCallback): not carried, %s; every planned step runs"
                     % (cfg["earlyStoppingPatience"], why))
    return notes


def read_rows(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                row = json.loads(line)
                if "completion" not in row:
                    raise ValueError("%s:%d: no completion" % (path, n))
                rows.append(row)
    return rows


def without_added_start(tokenizer, text):
    """A rendered chat template as pyreft's data modules should get it: they tokenize with the
    tokenizer's special tokens, so a template that writes the start token itself (Llama's, Mistral's)
    would get it twice, where the studio reads the rendered template with none added."""
    bos = getattr(tokenizer, "bos_token", None)
    if bos and text.startswith(bos) and tokenizer("")["input_ids"][:1] == [tokenizer.bos_token_id]:
        return text[len(bos):]
    return text


def through_chat_template(tokenizer, cfg, row):
    """Whether the studio formats this row's prompt through the chat template: chat rows always,
    plain prompts with chatTemplate 'auto' when the tokenizer has one (data.ts promptUsesChatTemplate)."""
    if "messages" in row:
        return True
    return cfg.get("chatTemplate", "auto") == "auto" and bool(getattr(tokenizer, "chat_template", None))


def prompt_text(tokenizer, cfg, row):
    """The prompt as the studio tokenizes it: through the tokenizer's chat template with the
    generation prompt where through_chat_template says so, else the text as it is."""
    if not through_chat_template(tokenizer, cfg, row):
        return row["prompt"]
    msgs = row["messages"] if "messages" in row else [{"role": "user", "content": row["prompt"]}]
    text = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    return without_added_start(tokenizer, text)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=os.path.join(HERE, "config.json"))
    ap.add_argument("--data", default=None, help="default: data.jsonl next to config.json")
    ap.add_argument("--model", default=None, help="model folder or hub id (default: config.json's model)")
    ap.add_argument("--out", default=os.path.join(HERE, "result"))
    ap.add_argument("--bf16", action="store_true", help="load the base model in bfloat16")
    args = ap.parse_args(argv)

    with open(args.config) as f:
        cfg = json.load(f)
    for note in not_carried(cfg):
        print("note: " + note)

    import torch
    import transformers
    import pyreft
    import pyvene

    data = args.data or os.path.join(os.path.dirname(os.path.abspath(args.config)), cfg["data"]["file"])
    model_name = args.model or cfg["model"]
    transformers.set_seed(cfg["seed"])

    precision = "bf16" if args.bf16 else "fp32"
    dtype = torch.bfloat16 if args.bf16 else torch.float32
    model = transformers.AutoModelForCausalLM.from_pretrained(model_name, torch_dtype=dtype)
    tokenizer = transformers.AutoTokenizer.from_pretrained(
        model_name, model_max_length=cfg["maxLength"], padding_side="right")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    add_phi3_anchor(pyvene, model)
    act = None if cfg["act"] == "linear" else cfg["act"]
    cls = getattr(pyreft, INTERVENTIONS[cfg["intervention"]])
    layers = representation_layers(cfg)
    reft_config = pyreft.ReftConfig(representations=[{
        "layer": layer,
        "component": "block_output",
        "low_rank_dimension": cfg["rank"],
        "intervention": cls(embed_dim=model.config.hidden_size, low_rank_dimension=cfg["rank"],
                            dropout=cfg["dropout"], act_fn=act),
    } for layer in layers])
    reft_model = pyreft.get_reft_model(model, reft_config)
    if torch.cuda.is_available():
        reft_model.set_device("cuda:%d" % int(os.environ.get("LOCAL_RANK", "0")))
    reft_model.print_trainable_parameters()

    rows = read_rows(data)
    prompts = [prompt_text(tokenizer, cfg, r) for r in rows]
    completions = [r["completion"] for r in rows]
    first, last = parse_positions(cfg["positions"])
    if first == 0 and last == 1:
        data_module = pyreft.make_last_position_supervised_data_module(
            tokenizer, model, prompts, completions, num_interventions=len(layers))
    else:
        data_module = pyreft.make_multiple_position_supervised_data_module(
            tokenizer, model, prompts, completions, positions=cfg["positions"],
            num_interventions=len(layers), share_weights=not is_untied(cfg))

    world = int(os.environ.get("WORLD_SIZE", "1"))
    per_device = max(1, cfg["batchSize"] // world)
    if per_device * world != cfg["batchSize"]:
        print("note: batch size %d over %d processes -> %d per process" % (cfg["batchSize"], world, per_device))
    micro = math.ceil(len(rows) / (per_device * world))
    total = cfg["maxSteps"] if cfg["maxSteps"] > 0 else cfg["epochs"] * math.ceil(micro / cfg["gradAccum"])
    training_args = transformers.TrainingArguments(
        output_dir=os.path.join(HERE, "trainer-output"),
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=cfg["gradAccum"],
        learning_rate=cfg["lr"],
        num_train_epochs=cfg["epochs"],
        max_steps=cfg["maxSteps"] if cfg["maxSteps"] > 0 else -1,
        lr_scheduler_type=cfg["schedule"],
        warmup_steps=math.ceil(cfg["warmupRatio"] * total),
        weight_decay=cfg["weightDecay"],
        max_grad_norm=cfg["maxGradNorm"],
        seed=cfg["seed"],
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        remove_unused_columns=False,
        ddp_find_unused_parameters=False,
    )
    import inspect
    tok_arg = "processing_class" if "processing_class" in inspect.signature(transformers.Trainer.__init__).parameters else "tokenizer"
    trainer = pyreft.ReftTrainerForCausalLM(model=reft_model, args=training_args, **{tok_arg: tokenizer}, **data_module)
    trainer.train()
    if trainer.is_world_process_zero():
        reft_model.save(save_directory=args.out)
        write_sidecar(args.out, cfg, tokenizer, rows, precision)
        print("saved %s; import it with: reft-studio import %s" % (args.out, args.out))


if __name__ == "__main__":
    main()
`;
