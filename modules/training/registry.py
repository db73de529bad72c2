"""The training registry: methods (what is trained) and objectives (what it is trained for), each one file."""

import types

from modules.training import dpo, full, ia3, lora, prompt_tuning, qat, qlora, reward, supervised

# method name -> module (or namespace) with DEFAULT_LR and prepare(base, config) -> the network to train (only it
# has grads). "lora" adapts the job's chosen targets; the placed ones fixed sets (lora.PLACES).
METHODS: dict[str, types.ModuleType | types.SimpleNamespace] = {
    "full": full,
    "lora": lora,
    **{name: lora.placed(targets) for name, targets in lora.PLACES.items()},
    "prompt-tuning": prompt_tuning,
    "ia3": ia3,
    "qlora": qlora,
    **{f"qat-{scheme}": qat.method(scheme) for scheme in qat.SCHEMES},  # a full fine-tune through fake-quantized
    # weights (int4 / int8); its variant runs converted
    "reward-model": reward,  # a scalar head on the shared base; trained with the "reward" objective
}

# objective name -> module with rows(model, task, pairs, max_length), batch(rows, pad_id), weight(row) and
# loss(net, batch) -> scalar tensor. DPO and reward read the pairs' preference (meta chosen / rejected).
OBJECTIVES: dict[str, types.ModuleType] = {
    "supervised": supervised,
    "dpo": dpo,
    "reward": reward,
}


def get_method(name: str) -> types.ModuleType:
    if name not in METHODS:
        raise ValueError(f"Unknown training method '{name}'. Available: {', '.join(METHODS)}.")
    return METHODS[name]


def get_objective(name: str) -> types.ModuleType:
    if name not in OBJECTIVES:
        raise ValueError(f"Unknown training objective '{name}'. Available: {', '.join(OBJECTIVES)}.")
    return OBJECTIVES[name]
