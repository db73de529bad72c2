"""Pruning a copy of the base: unstructured (magnitude, global or per layer; Wanda: |weight| x input activation norm)
and structured (whole MLP neurons, whole attention heads, whole layers: the matrices shrink and a step does less
work). The base is never touched.

Unstructured sparsity stored dense gives no speed on a CPU or a GPU without sparse kernels: the zeros are still
multiplied. Structured pruning removes rows and columns: that is the one that can be faster (and smaller)."""

import copy
import time

import torch
from torch import nn

from modules.models import calibration
from modules.models.quantized import check_memory
from modules.models.spec import variant_spec

MLP_IN, MLP_OUT = ("gate_proj", "up_proj"), "down_proj"
METHODS = ("magnitude-global", "magnitude-layer", "wanda", "mlp-neurons", "attention-heads", "layers")
CALIBRATED = ("wanda", "mlp-neurons", "attention-heads")  # the methods that read calibration text


def check_sparsity(sparsity: float) -> float:
    if not 0 <= sparsity < 1:
        raise ValueError(f"Sparsity must be at least 0 and below 1 (1 would remove every weight), got {sparsity}.")
    return float(sparsity)


def prunable(net: nn.Module) -> dict[str, nn.Linear]:
    """The decoder layers' linear weights (attention and MLP); the embeddings and the output head are kept."""
    return {name: module for name, module in net.named_modules()
            if isinstance(module, nn.Linear) and ".layers." in f".{name}" and "lm_head" not in name}  # fmt: skip


def magnitude(net: nn.Module, sparsity: float, scope: str = "global") -> nn.Module:
    """Zero the `sparsity` share of smallest |w|: over all prunable weights at once (global) or in each matrix."""
    sparsity, layers = check_sparsity(sparsity), prunable(net)
    with torch.no_grad():
        if scope == "global":
            weights = [m.weight for m in layers.values()]
            flat = torch.cat([w.abs().flatten().float() for w in weights])
            cut = _smallest_mask(flat, int(sparsity * flat.numel()))
            for weight, part in zip(weights, cut.split([w.numel() for w in weights])):
                weight.masked_fill_(part.view_as(weight), 0)
        elif scope == "layer":
            for module in layers.values():
                _zero_smallest(module.weight, module.weight.abs(), sparsity)
        else:
            raise ValueError(f"Scope must be 'global' or 'layer', got '{scope}'.")
    return net


def wanda(net: nn.Module, sparsity: float, calibration: list[torch.Tensor]) -> nn.Module:
    """Wanda (Sun et al. 2023): score |W_ij| x ||X_j||_2 (the input feature's norm over the calibration tokens) and
    cut the lowest share in each output row. `calibration`: input_ids tensors (1, seq) run through the network."""
    sparsity, layers = check_sparsity(sparsity), prunable(net)
    if not calibration:
        raise ValueError("Wanda needs calibration text: at least one tokenized example.")
    norms = {name: torch.zeros(m.in_features, device=m.weight.device) for name, m in layers.items()}

    def hook(name):
        def add(module, args, output):
            x = args[0].detach().float().reshape(-1, args[0].shape[-1])
            norms[name] += (x * x).sum(0)

        return add

    handles = [module.register_forward_hook(hook(name)) for name, module in layers.items()]
    try:
        with torch.no_grad():
            for ids in calibration:
                net(input_ids=ids.to(next(net.parameters()).device))
    finally:
        for handle in handles:
            handle.remove()
    with torch.no_grad():
        for name, module in layers.items():
            scores = module.weight.abs().float() * norms[name].sqrt().unsqueeze(0)
            for row in range(module.weight.shape[0]):
                _zero_smallest(module.weight[row], scores[row], sparsity)
    return net


def mlp_neurons(net: nn.Module, share: float, calibration: list[torch.Tensor] | None = None) -> nn.Module:
    """Remove the `share` of each MLP's intermediate neurons that contribute least: mean |activation| on the
    calibration text x the norm of the neuron's column in down (without calibration: |gate| x |up| x |down| norms,
    which measured far worse here). Gate and up lose output rows, down loses input columns: smaller matrices."""
    share = check_sparsity(share)
    mlps = [m for m in net.modules() if all(hasattr(m, name) for name in (*MLP_IN, MLP_OUT))]
    activity = _neuron_activity(net, mlps, calibration) if calibration else {}
    with torch.no_grad():
        for module in mlps:
            gate, up, down = module.gate_proj, module.up_proj, module.down_proj
            if id(module) in activity:
                importance = activity[id(module)] * down.weight.norm(dim=0)
            else:
                importance = gate.weight.norm(dim=1) * up.weight.norm(dim=1) * down.weight.norm(dim=0)
            keep = importance.argsort(descending=True)[: gate.out_features - int(share * gate.out_features)]
            keep = keep.sort().values  # the kept neurons in their order: at share 0 the layer is unchanged
            module.gate_proj, module.up_proj = _rows(gate, keep), _rows(up, keep)
            module.down_proj = _columns(down, keep)
    return net


@torch.no_grad()
def _neuron_activity(net: nn.Module, mlps: list[nn.Module], calibration: list[torch.Tensor]) -> dict[int, torch.Tensor]:
    """Each MLP's mean |input to down| per neuron over the calibration tokens."""
    sums = {id(m): torch.zeros(m.down_proj.in_features, device=m.down_proj.weight.device) for m in mlps}
    counts = dict.fromkeys(sums, 0)

    def record(mlp):
        def hook(module, args, output):
            x = args[0].detach().float().reshape(-1, args[0].shape[-1])
            sums[id(mlp)] += x.abs().sum(0)
            counts[id(mlp)] += x.shape[0]

        return hook

    handles = [m.down_proj.register_forward_hook(record(m)) for m in mlps]
    try:
        for ids in calibration:
            net(input_ids=ids.to(next(net.parameters()).device))
    finally:
        for handle in handles:
            handle.remove()
    return {key: total / max(counts[key], 1) for key, total in sums.items()}


def attention_heads(net: nn.Module, share: float, calibration: list[torch.Tensor]) -> nn.Module:
    """Remove about `share` of all query heads, those the next-token loss on the calibration text depends on least
    (_head_importance; measured here at 25%: perplexity 187 against 5,073 when ranked by the norm of each head's
    output instead). Grouped-query attention shares each key/value head among `groups` query heads, and
    transformers runs every group with the same count: so a layer drops the same number from each group (its r-th
    weakest; at least one kept), and layers drop different numbers, the cheapest (layer, r) slots first. Key/value
    heads and the KV cache are kept; q_proj loses rows, o_proj columns."""
    share = check_sparsity(share)
    attentions = [layer.self_attn for layer in net.model.layers]
    importance = _head_importance(net, attentions, calibration)
    heads, groups = _head_counts(attentions[0])
    kv_heads = heads // groups
    slots = []  # (cost, layer, r): dropping the r-th weakest head of every group in that layer
    for index in range(len(attentions)):
        ranked = importance[index].reshape(kv_heads, groups).sort(dim=1).values  # weakest first, per group
        slots += [(ranked[:, r].sum().item(), r, index) for r in range(groups - 1)]
    chosen = sorted(slots)[: int(share * heads * len(attentions)) // kv_heads]
    dropped = [0] * len(attentions)
    for _, _, index in chosen:
        dropped[index] += 1  # the slots' costs rise with r: a layer's r-th comes after its (r-1)-th
    with torch.no_grad():
        for index, attention in enumerate(attentions):
            per_group = importance[index].reshape(kv_heads, groups)
            kept = per_group.argsort(dim=1, descending=True)[:, : groups - dropped[index]].sort(dim=1).values
            kept = (kept + torch.arange(kv_heads).unsqueeze(1) * groups).flatten()  # head numbers, in order
            rows = (kept.unsqueeze(1) * attention.head_dim + torch.arange(attention.head_dim)).flatten()
            attention.q_proj, attention.o_proj = _rows(attention.q_proj, rows), _columns(attention.o_proj, rows)
            attention.num_key_value_groups = groups - dropped[index]  # read by transformers' attention functions
    return net


def _head_counts(attention: nn.Module) -> tuple[int, int]:
    """(query heads, query heads per key/value head) of one attention module as it is now."""
    return attention.q_proj.out_features // attention.head_dim, attention.num_key_value_groups


def _head_importance(net: nn.Module, attentions: list[nn.Module], calibration: list[torch.Tensor]) -> list:
    """Per attention module, each query head's importance (Michel et al. 2019): |d loss / d m_h| summed over the
    calibration examples, m_h a gate of 1 on the head's output, so a head whose removal would move the next-token
    loss most scores highest. One forward and backward pass per example; the weights get no gradients."""
    if not calibration:
        raise ValueError("Pruning attention heads needs calibration text: at least one tokenized example.")
    device = next(net.parameters()).device
    gates = [torch.ones(_head_counts(a)[0], device=device, requires_grad=True) for a in attentions]
    totals = [torch.zeros_like(gate) for gate in gates]

    def gate(index, attention):
        def hook(module, args):
            x = args[0]
            return ((x.unflatten(-1, (-1, attention.head_dim)) * gates[index].unsqueeze(-1)).flatten(-2),)

        return hook

    handles = [a.o_proj.register_forward_pre_hook(gate(i, a)) for i, a in enumerate(attentions)]
    try:
        with torch.enable_grad():
            for ids in calibration:
                ids = ids.to(device)
                loss = net(input_ids=ids, labels=ids).loss
                for total, grad in zip(totals, torch.autograd.grad(loss, gates)):
                    total += grad.abs()
    finally:
        for handle in handles:
            handle.remove()
    return totals


def keep_layers(net: nn.Module, keep: int) -> nn.Module:
    """`net` (changed in place) with `keep` of its decoder layers, evenly spaced, the first and the last kept."""
    layers = net.model.layers
    if not 1 <= keep <= len(layers):
        raise ValueError(f"Keep 1-{len(layers)} of the {len(layers)} decoder layers, got {keep}.")
    picked = sorted({round(i * (len(layers) - 1) / max(keep - 1, 1)) for i in range(keep)})
    net.model.layers = nn.ModuleList(layers[i] for i in picked)
    for index, layer in enumerate(net.model.layers):
        layer.self_attn.layer_idx = index  # the KV cache is indexed by position in the stack
    net.config.num_hidden_layers = len(picked)
    if getattr(net.config, "layer_types", None):
        net.config.layer_types = [net.config.layer_types[i] for i in picked]
    return net


def prune(hf: nn.Module, method: str, sparsity: float, calibration: list[torch.Tensor] | None = None) -> nn.Module:
    """A pruned deep copy of `hf` (the base's own weights are never written)."""
    if method not in METHODS:
        raise ValueError(f"Unknown pruning method '{method}'. Available: {', '.join(METHODS)}.")
    check_sparsity(sparsity)
    net = copy.deepcopy(hf).eval()
    if method == "wanda":
        return wanda(net, sparsity, calibration or [])
    if method == "mlp-neurons":
        return mlp_neurons(net, sparsity, calibration)
    if method == "attention-heads":
        return attention_heads(net, sparsity, calibration or [])
    if method == "layers":  # depth: the share of decoder layers dropped (at least one kept)
        count = len(net.model.layers)
        return keep_layers(net, max(1, count - int(sparsity * count)))
    return magnitude(net, sparsity, "global" if method == "magnitude-global" else "layer")


def sparsity_of(net: nn.Module) -> float:
    """The share of zeros among the prunable weights."""
    layers = prunable(net).values()
    return sum(int((m.weight == 0).sum()) for m in layers) / sum(m.weight.numel() for m in layers)


def magnitudes(net: nn.Module, sample: int = 200_000, seed: int = 0) -> torch.Tensor:
    """A seeded sample of |w| over the prunable weights: the histogram of how many weights are near zero."""
    values = torch.cat([m.weight.detach().abs().flatten().float() for m in prunable(net).values()])
    generator = torch.Generator().manual_seed(seed)
    picked = torch.randperm(values.numel(), generator=generator)[:sample]
    return values[picked]


def _smallest_mask(scores: torch.Tensor, count: int) -> torch.Tensor:
    """True at exactly `count` entries of the flat `scores` with the lowest values (ties: the first positions)."""
    cut = torch.zeros_like(scores, dtype=torch.bool)
    if count:
        threshold = torch.kthvalue(scores, count).values  # no full sort: 100M scores, a sort's indices are 800 MB
        cut = scores < threshold
        ties = (scores == threshold).nonzero().flatten()[: count - int(cut.sum())]
        cut[ties] = True
    return cut


def _zero_smallest(weight: torch.Tensor, scores: torch.Tensor, sparsity: float) -> None:
    """Zero exactly round-down(sparsity x size) entries of `weight` with the lowest scores."""
    cut = _smallest_mask(scores.flatten().float(), int(sparsity * weight.numel()))
    weight.masked_fill_(cut.view_as(weight), 0)


def _rows(linear: nn.Linear, keep: torch.Tensor) -> nn.Linear:
    smaller = nn.Linear(linear.in_features, len(keep), bias=linear.bias is not None,
                        device=linear.weight.device, dtype=linear.weight.dtype)  # fmt: skip
    smaller.weight.copy_(linear.weight[keep])
    if linear.bias is not None:
        smaller.bias.copy_(linear.bias[keep])
    return smaller


def _columns(linear: nn.Linear, keep: torch.Tensor) -> nn.Linear:
    smaller = nn.Linear(len(keep), linear.out_features, bias=linear.bias is not None,
                        device=linear.weight.device, dtype=linear.weight.dtype)  # fmt: skip
    smaller.weight.copy_(linear.weight[:, keep])
    if linear.bias is not None:
        smaller.bias.copy_(linear.bias)
    return smaller


def parse(text: str) -> tuple[str, float]:
    """'wanda-50' (the spec suffix after '+prune:') -> ('wanda', 0.5)."""
    method, _, percent = text.strip().rpartition("-")
    if method not in METHODS or not percent.isdigit():
        raise ValueError(f"A pruning is '<method>-<percent>' with a method of {', '.join(METHODS)}, e.g. 'wanda-50'; "
                         f"got '{text[:80]}'.")  # fmt: skip
    return method, check_sparsity(int(percent) / 100)


def describe(method: str, sparsity: float) -> str:
    if method == "mlp-neurons":
        return f"{sparsity:.0%} of each MLP's neurons removed (structured: smaller matrices)"
    if method == "attention-heads":
        return f"about {sparsity:.0%} of the query heads removed (structured: smaller q and o projections)"
    if method == "layers":
        return f"{sparsity:.0%} of the decoder layers dropped, evenly spaced (structured: a shallower model)"
    what = {"magnitude-global": "magnitude, global", "magnitude-layer": "magnitude, per layer", "wanda": "Wanda"}
    return f"{what[method]} pruning, {sparsity:.0%} of the layers' weights zeroed (stored dense: no speed gain)"


def build(base, text: str):
    """The pruned variant of `base` by spec ('wanda-50'): a copy. Wanda and structured pruning calibrate on
    modules/models/calibration (train examples)."""
    if not base.capabilities.variants:
        raise ValueError(f"Pruning needs a local model: '{base.spec[:80]}' runs on a server, its weights are not here.")
    method, sparsity = parse(text)
    check_memory(base)
    started = time.perf_counter()
    batches = calibration.batches(base) if method in CALIBRATED else None
    net = prune(base.hf, method, sparsity, batches)
    spec = variant_spec(base.spec, prune=f"{method}-{round(sparsity * 100)}")
    return base.variant(spec, f"{base.label} -> {describe(method, sparsity)}", net,
                        conversion_s=time.perf_counter() - started)  # fmt: skip
