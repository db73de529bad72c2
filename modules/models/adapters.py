"""Fine-tunes as assets under LAB_HOME/adapters/<name>/: weights, config, data hash, seed, losses and scores.

A LoRA adapter is loaded onto one peft host per base (a module tree sharing the base's frozen weights) and
switched with set_adapter, so a new adapter never reloads or copies the base. Prompt-tuning adapters get their
own host (peft cannot mix soft prompts and LoRA in one model); a full fine-tune is a full copy of the weights.
"""

import copy
import json
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

from safetensors.torch import load_model, save_model
from torch import nn

from modules.models.model import Model
from modules.models.spec import ModelSpec, variant_spec
from modules.paths import check_room, make_private, user_home

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,59}$")
META = "lab.json"


def shared_weights_copy(hf: nn.Module) -> nn.Module:
    """A new module tree whose parameters and buffers ARE the base's tensors: wrapping it with peft leaves the
    base's own modules as they were, and costs no second copy of the weights."""
    memo = {id(t): t for t in (*hf.parameters(), *hf.buffers())}
    return copy.deepcopy(hf, memo)


FULL_COPIES = ("full", "qat-8da4w", "qat-w8a8")  # methods saved as a whole copy of the weights


def adapters_dir() -> Path:
    return user_home() / "adapters"


def asset_dir(name: str) -> Path:
    if not NAME.match(name or "") or ".." in name:
        raise ValueError(f"Adapter name '{name}' must be 1-60 letters, digits, '.', '-' or '_', starting with one.")
    return adapters_dir() / name


def save(name: str, net: nn.Module, meta: dict) -> Path:
    """Write weights + lab.json into a temp folder, then rename it into place (replacing an older asset)."""
    target = asset_dir(name)
    tensors = net.parameters() if meta["method"] in FULL_COPIES else (p for p in net.parameters() if p.requires_grad)
    check_room(sum(t.numel() * t.element_size() for t in tensors), f"Saving adapter '{name}'")
    make_private(target.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=target.parent))
    try:
        if meta["method"] in FULL_COPIES:
            save_model(net, str(staging / "model.safetensors"))  # handles the tied embedding / output head
        else:
            net.save_pretrained(str(staging))  # adapter_config.json + adapter_model.safetensors
        (staging / META).write_text(json.dumps(meta | {"name": name, "created": time.time()}, indent=1))
        old = target.with_name(f".old-{name}")
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def weights_bytes(folder: Path) -> int:
    """Size on disk of what must be kept to use the fine-tune (weights and their config, not our notes)."""
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file() and p.name != META)


def read_meta(name: str) -> dict:
    path = asset_dir(name) / META
    if not path.is_file():
        raise ValueError(f"No saved adapter named '{name}'.")
    return json.loads(path.read_text())


def update_meta(name: str, **fields) -> None:
    """Add fields (scores) to lab.json, written atomically."""
    path = asset_dir(name) / META
    meta = read_meta(name) | fields
    temporary = path.with_name(f".{META}.tmp")
    temporary.write_text(json.dumps(meta, indent=1))
    temporary.replace(path)


def list_assets() -> list[dict]:
    """One dict per saved adapter, newest first, with its size on disk and the model spec that uses it."""
    folder = adapters_dir()
    found = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.is_dir() and NAME.match(path.name) and (path / META).is_file():
            try:
                meta = json.loads((path / META).read_text())
            except json.JSONDecodeError:
                continue  # a damaged note file: the asset cannot be used, so it is not listed
            spec = variant_spec(meta.get("base") or "?", adapter=path.name)
            data = str(meta.get("data") or "")  # older assets noted the upload's server path: show its name only
            data = Path(data).name if "/" in data or "\\" in data else data
            found.append(meta | {"name": path.name, "size_mb": weights_bytes(path) / 2**20, "spec": spec, "data": data})
    return sorted(found, key=lambda m: -m.get("created", 0))


def delete(name: str) -> None:
    shutil.rmtree(asset_dir(name))


def load_variant(base: Model, name: str) -> Model:
    """The saved fine-tune `name` as a Model on `base`; the base's own weights are never written."""
    meta, folder = read_meta(name), asset_dir(name)
    if meta["base"] != base.spec:
        raise ValueError(f"Adapter '{name}' was trained on '{meta['base']}', not on '{base.spec}'.")
    if meta["method"] == "reward-model":
        raise ValueError(f"'{name}' is a reward model: it scores answers and does not write them, so it cannot be "
                         "the model of a tab.")  # fmt: skip
    spec, label = variant_spec(base.spec, adapter=name), f"{base.label} + {meta['method']} '{name}'"
    if meta["method"] in FULL_COPIES:
        net = copy.deepcopy(base.hf)
        load_model(net, str(folder / "model.safetensors"))
        if meta["method"].startswith("qat-"):  # scored as it was trained and will run: converted (QAT's last step)
            from modules.models import quantized

            scheme = meta["method"].removeprefix("qat-")
            net = quantized.qat_convert(net, scheme)
            label += f" (converted: {quantized.QAT_SCHEMES[scheme]})"
        return base.variant(spec, label, net.eval())
    from peft import PeftModel  # heavy: only when an adapter is used

    if meta["method"] == "qlora":  # scored as it was trained and will run: on the 4-bit NF4 base, its own host
        from modules.models.quantized import nf4_network

        net = PeftModel.from_pretrained(nf4_network(base), str(folder))
        return base.variant(spec, f"{label} (on its 4-bit NF4 base)", net.eval())
    if meta["method"] in ("prompt-tuning", "ia3"):  # a network of its own: peft hosts one adapter type per model
        net = PeftModel.from_pretrained(shared_weights_copy(base.hf), str(folder))
        return base.variant(spec, label, net.eval(), soft_prompt=meta["method"] == "prompt-tuning")
    if base.adapter_host is None:
        base.adapter_host = (PeftModel.from_pretrained(shared_weights_copy(base.hf), str(folder), adapter_name=name),
                             threading.Lock())  # fmt: skip
    host, lock = base.adapter_host
    with lock:
        if name not in host.peft_config:
            host.load_adapter(str(folder), adapter_name=name)
    host.eval()
    return base.variant(spec, label, host, lock=lock, activate=lambda: host.set_adapter(name))


def added_bytes(variant: Model, base: Model) -> int:
    """Bytes `variant` holds beyond `base`'s own tensors: what serving it beside the base costs. On a shared LoRA
    host, only this adapter's tensors count (the others are theirs); a full fine-tune is a whole copy."""
    shared = {t.data_ptr() for t in (*base.hf.parameters(), *base.hf.buffers())}
    adapter = ModelSpec.parse(variant.spec).adapter
    own = f".{adapter}." if variant.activate is not None and adapter else ""  # a host names tensors by adapter
    seen, total = set(), 0
    for name, tensor in (*variant.hf.named_parameters(), *variant.hf.named_buffers()):
        if tensor.data_ptr() in shared or tensor.data_ptr() in seen or (own and own not in name):
            continue
        seen.add(tensor.data_ptr())
        total += tensor.numel() * tensor.element_size()
    return total


def unload(base: Model, name: str) -> None:
    """Remove a LoRA adapter from the base's host (after its asset was deleted)."""
    if base.adapter_host is not None:
        host, lock = base.adapter_host
        with lock:
            if name in host.peft_config and len(host.peft_config) > 1:
                host.delete_adapter(name)
