"""Precision variants of a model: fp32 (the baseline), bf16, int8 (dynamic, per component) and 4-bit where a
4-bit path really runs; each made from a copy, so the base is never modified.

int8 on CPU is PyTorch's dynamic quantization: Linear weights stored as int8 (per-tensor scale), activations
quantized on the fly; measured here before this tab, ~2.9x faster decoding than fp32 at batch 1. 4-bit on CPU is
PyTorch's own int4 weight-only kernel (groups of 32 weights share a scale and a zero point): about 1/7 of the fp32
bytes, but on this CPU each int4 matmul is ~14x slower than fp32's, so it is the small-but-slow point of the chart.
On CUDA, int8 and 4-bit are bitsandbytes (LLM.int8, NF4).

w8a8 is int8 that keeps quality on a CPU: int8 weights with a scale per output channel and int8 activations with a
scale per token (TokenInt8Linear). Per-tensor activation scales were this model's problem: one outlier token or
channel sets the scale for the whole prompt (mean KL to fp32 on calibration text: 1.03 nats per token per tensor,
0.05 per token). Its "auto" components are the automatic recipe of modules/models/int8_recipe.py.
"""

import copy
import time
import warnings
from dataclasses import dataclass, field

import psutil
import torch
from torch import nn

from modules.models import calibration, int8_recipe, zero_gpu
from modules.models.embedded import EMBEDDED_SPEC, cache_dir
from modules.models.model import Model
from modules.models.spec import variant_spec

PRECISIONS = ("fp32", "bf16", "int8", "w8a8", "8da4w", "4bit")
# Groups a user picks; "all-but-down_proj" also keeps the MLP's down projection in fp32: its inputs carry the
# activation outliers that int8 dynamic quantization (activations quantized per tensor) handles worst here.
COMPONENTS = ("attention", "mlp", "all-but-embeddings", "all-but-down_proj", "everything")
AUTO = "auto"  # w8a8 only: the automatic recipe keeps the layer types int8 hurts most in fp32 until a budget is met
ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP = ("gate_proj", "up_proj", "down_proj")
LAYER_TYPES = (*ATTENTION, *MLP, "lm_head")  # single layer types: the sensitivity table quantizes one at a time
MEMORY_SHARE = 0.8  # a variant may use at most this share of the free memory
SMOOTH_ALPHA = 0.5  # SmoothQuant's migration strength; measured here: KL 0.015 at 0.5, 0.033 at 0.3, 0.061 without
# SmoothQuant's channel maxima from 16 train examples, not calibration's 4: on 68 other train dialogues (never test;
# benchmarks/compression.py --only recipes) w8a8 lost 4.9 ROUGE-L points [+2.1, +7.8] to fp32 with 4 and 1.2 fewer
# [-3.9, +1.5] with 16, at about the same KL (0.013 / 0.014); the other recipes there lost 2.9 to 5.6
SMOOTH_EXAMPLES = 16
RESCORED = 8  # the int8 head's best candidates whose logits are recomputed in fp32 (4 and 16 measured the same)
INT4_KERNEL = "_weight_int4pack_mm_for_cpu"
INT4_GROUP = 32  # weights per scale / zero point: smaller groups, closer to fp32, a little more memory


@dataclass
class Config:
    precision: str = field(default="int8", metadata={"help": "fp32 | bf16 | int8 | w8a8 | 8da4w | 4bit."})
    components: str = field(
        default="all-but-embeddings",
        metadata={"help": "int8/w8a8/4bit: attention | mlp | all-but-embeddings | everything; w8a8: auto."},
    )

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got '{self.precision}'.")
        if self.components not in (*COMPONENTS, *LAYER_TYPES, AUTO):
            raise ValueError(
                f"components must be one of {', '.join(COMPONENTS)} or one layer type ({', '.join(LAYER_TYPES)}), "
                f"got '{self.components}'."
            )
        if self.components == AUTO and self.precision != "w8a8":
            raise ValueError("components 'auto' (the automatic int8 recipe) is a w8a8 choice: use 'w8a8-auto'.")

    @property
    def name(self) -> str:
        if self.precision in ("fp32", "bf16"):
            return self.precision
        return self.precision if self.components == "all-but-embeddings" else f"{self.precision}-{self.components}"


def parse(text: str) -> Config:
    """'int8', 'int8-mlp' or 'w8a8-auto' (the spec suffix after '+quant:') -> Config."""
    precision, _, components = text.partition("-")
    return Config(precision, components or "all-but-embeddings")


def unavailable_reason(precision: str) -> str | None:
    if precision not in ("fp32", "bf16") and zero_gpu.refusal("quantization"):
        return zero_gpu.refusal("quantization")
    if precision == "4bit" and not torch.cuda.is_available() and not hasattr(torch.ops.aten, INT4_KERNEL):
        return "No 4-bit path runs here: bitsandbytes needs CUDA and this PyTorch has no CPU int4 kernel."
    if precision == "8da4w":
        try:
            import torchao  # noqa: F401
        except ImportError:
            return "8da4w needs the torchao package: pip install torchao==0.18.0"
    fbgemm = "fbgemm" in torch.backends.quantized.supported_engines
    if precision == "w8a8" and (torch.cuda.is_available() or not fbgemm):
        return "w8a8 runs on PyTorch's CPU int8 kernels (fbgemm); on CUDA use int8 (bitsandbytes LLM.int8)."
    if precision in ("int8", "4bit") and torch.cuda.is_available():
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            return f"{precision} on CUDA needs the bitsandbytes package: pip install bitsandbytes"
    return None


def chosen_linears(hf: nn.Module, components: str) -> list[str]:
    """Names of the Linear layers the component choice covers (the output head only for 'everything')."""
    names = []
    for name, module in hf.named_modules():
        if not isinstance(module, nn.Linear):
            continue
        leaf = name.rsplit(".", 1)[-1]
        wanted = {
            "attention": leaf in ATTENTION,
            "mlp": leaf in MLP,
            "all-but-embeddings": leaf != "lm_head",
            "all-but-down_proj": leaf not in ("lm_head", "down_proj"),
            "everything": True,
        }.get(components, leaf == components)
        if wanted:
            names.append(name)
    return names


def weight_bytes(net: nn.Module) -> int:
    """Bytes of the weights and buffers actually held: tied tensors once, int8 packed weights at 1 byte each."""
    seen, total = set(), 0
    for tensor in (*net.parameters(), *net.buffers()):
        if tensor.data_ptr() not in seen:
            seen.add(tensor.data_ptr())
            total += tensor.numel() * tensor.element_size()
    for module in net.modules():
        if hasattr(module, "_packed_params") and callable(getattr(module, "weight", None)):
            weight = module.weight()
            total += weight.numel() * weight.element_size()
            if weight.qscheme() in (torch.per_channel_affine, torch.per_channel_affine_float_qparams):
                total += 2 * weight.q_per_channel_scales().numel() * 4  # scales + zero points, float32
            bias = module.bias() if callable(getattr(module, "bias", None)) else None
            if bias is not None:
                total += bias.numel() * bias.element_size()
    return total


def check_memory(base: Model) -> None:
    """Refuse before building: a variant starts as a full copy of the base."""
    needed = weight_bytes(base.hf)
    on_gpu = base.device.type == "cuda"
    free = torch.cuda.mem_get_info(base.device)[0] if on_gpu else psutil.virtual_memory().available
    if needed > MEMORY_SHARE * free:
        raise ValueError(
            f"Not enough free memory to build this variant: it needs about {needed / 2**20:,.0f} MB while "
            f"{free / 2**20:,.0f} MB are free. Free other variants first."
        )


def own_precision(model: Model) -> str:
    """The precision a loaded base runs in (fp32 on a CPU, bf16 on CUDA): the reference every variant is compared to."""
    return "bf16" if model.dtype == torch.bfloat16 else "fp32"


def build(base: Model, config: Config) -> Model:
    """The variant (its conversion_s says how long it took). The base's own precision is the base itself; others are
    converted copies."""
    if not base.capabilities.variants:
        raise ValueError(
            f"Quantization needs a local model: '{base.spec[:80]}' runs on a server, its weights are not here."
        )
    reason = unavailable_reason(config.precision)
    if reason:
        raise ValueError(reason)
    if config.precision == own_precision(base):
        return base
    if config.precision == "fp32":
        raise ValueError(f"The base runs in {own_precision(base)}: an fp32 copy of its weights adds nothing.")
    check_memory(base)
    started, recipe = time.perf_counter(), None
    if base.device.type == "cuda" and config.precision in ("int8", "4bit"):
        net = _bitsandbytes(base, config)
    else:
        net = copy.deepcopy(base.hf)
        if config.precision == "bf16":
            net = net.to(torch.bfloat16)
        elif config.precision == "int8":
            net = _dynamic_int8(net, config.components)
        elif config.precision == "w8a8":
            net, recipe = _w8a8(base, net, config.components)
        elif config.precision == "8da4w":
            net = torchao_8da4w(net, config.components)
        else:
            net = _int4_cpu(net, config.components)
    label = f"{base.label} -> {describe(config)}"
    if any(isinstance(module, RescoredHead) for module in net.modules()):
        label += f"; int8 head, its best {RESCORED} rescored in fp32"
    if recipe is not None:
        label += f" ({recipe.summary()})"
    spec = variant_spec(base.spec, quant=config.name)
    model = base.variant(spec, label, net.eval(), conversion_s=time.perf_counter() - started)
    model.recipe = recipe  # the automatic recipe's measurements, for the tab's "why" table; None otherwise
    return model


def describe(config: Config) -> str:
    if config.precision == "bf16":
        return "bf16 (all weights)"
    if config.precision == "int8":
        where = "bitsandbytes LLM.int8" if torch.cuda.is_available() else "int8 dynamic (PyTorch)"
        return f"{where}, {config.components}"
    if config.precision == "w8a8":
        what = "the automatic recipe" if config.components == AUTO else config.components
        return f"w8a8: SmoothQuant, int8 weights per channel, int8 activations per token (fbgemm), {what}"
    if config.precision == "8da4w":
        return f"torchao 8da4w: int8 activations per token, int4 weights in groups of {INT4_GROUP}, {config.components}"
    if config.precision == "4bit":
        where = "4-bit NF4 (bitsandbytes)" if torch.cuda.is_available() else f"int4 weight-only, groups of {INT4_GROUP}"
        return f"{where}, {config.components}"
    return "fp32"


def _dynamic_int8(net: nn.Module, components: str) -> nn.Module:
    from torch.ao.quantization import default_dynamic_qconfig, float_qparams_weight_only_qconfig, quantize_dynamic

    spec = dict.fromkeys(chosen_linears(net, components), default_dynamic_qconfig)
    if components == "everything":
        spec[_embedding_name(net)] = float_qparams_weight_only_qconfig
    with warnings.catch_warnings():  # PyTorch marks torch.ao quantization deprecated in favour of torchao
        warnings.simplefilter("ignore")
        return quantize_dynamic(net, spec, dtype=torch.qint8, inplace=True)


class TokenInt8Linear(nn.Module):
    """A Linear run by fbgemm's int8 kernel with a scale per token: each row of the input is divided by its own
    largest |value| first, so the kernel's one dynamic range (per tensor, at most [-1, 1] now) no longer lets an
    outlier token coarsen every other token's step, and the output rows are multiplied back (a Linear is linear).
    Weights int8 with a scale per output channel; one copy of them.

    With `input_absmax` (each input channel's largest |value| on calibration text) it is SmoothQuant (Xiao et al.
    2023): input channel j is divided by s_j = absmax_j^a / max|W_:,j|^(1-a) and the weight's column j multiplied by
    it, the same product with the activation outliers moved into the weights, which int8 per channel holds better."""

    def __init__(self, linear: nn.Linear, input_absmax: torch.Tensor | None = None, alpha: float = SMOOTH_ALPHA):
        super().__init__()
        from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
        from torch.ao.quantization import per_channel_dynamic_qconfig

        weight = linear.weight.detach().float()
        smooth = torch.ones(linear.in_features, device=weight.device)
        if input_absmax is not None:
            smooth = input_absmax.float().clamp(min=1e-5) ** alpha / weight.abs().amax(0).clamp(min=1e-5) ** (1 - alpha)
        plain = nn.Linear(linear.in_features, linear.out_features, bias=False)
        plain.weight = nn.Parameter(weight * smooth, requires_grad=False)
        plain.qconfig = per_channel_dynamic_qconfig
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.int8 = DynamicLinear.from_float(plain)
        self.register_buffer("inverse_smooth", 1 / smooth)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float() * self.inverse_smooth
        scale = x.abs().amax(-1, keepdim=True).clamp(min=1e-6)
        # reduce_range=False: all 8 bits for the activations (7 bits doubled the step and tripled the KL here);
        # measured end to end, fbgemm's AVX2 saturation risk did not show on this model. A zero point per token
        # (each row mapped onto [0, 1]) lowered the calibration KL (0.0116 -> 0.0097) and each layer's error, yet
        # lost 10.8 ROUGE-L points [+5.3, +16.3] against this one's 2.9 on the 22 test examples: kept as it is.
        out = torch.ops.quantized.linear_dynamic(x / scale, self.int8._packed_params._packed_params, False) * scale
        return out if self.bias is None else out + self.bias


def torchao_8da4w_config():
    """torchao's int8-dynamic-activation / int4-weight config: the PTQ recipe, and the one QAT fake-quantizes."""
    from torchao.quantization import Int8DynamicActivationIntxWeightConfig
    from torchao.quantization.granularity import PerGroup

    return Int8DynamicActivationIntxWeightConfig(weight_dtype=torch.int4, weight_granularity=PerGroup(INT4_GROUP))


def linear_filter(net: nn.Module, components: str):
    """A quantize_ filter: the Linear layers `components` covers (for torchao's quantize_)."""
    chosen = set(chosen_linears(net, components))
    return lambda module, name: name in chosen


def torchao_8da4w(net: nn.Module, components: str) -> nn.Module:
    """torchao's 8da4w on the chosen Linears, in place: also QAT's convert step (a QAT fine-tune's weights, trained
    against this very fake quantization, converted by the same config)."""
    from torchao.quantization import quantize_

    quantize_(net, torchao_8da4w_config(), filter_fn=linear_filter(net, components))
    return net


def _w8a8(base: Model, net: nn.Module, components: str):
    """w8a8 on a copy: SmoothQuant-scaled per-token int8 on the chosen Linears (or the recipe's choice for "auto");
    the network and the recipe (None unless "auto")."""
    batches = calibration.batches(base, SMOOTH_EXAMPLES)
    absmax = int8_recipe.input_absmax(net, batches)

    def make(name: str, linear: nn.Linear) -> nn.Module:
        return int8_layer(net, name, linear, absmax[name])

    if components == AUTO:
        return int8_recipe.choose(net, batches[: calibration.EXAMPLES], make)  # its KL passes: the usual few
    return token_int8(net, components, absmax), None


# QAT's schemes (modules/training/qat.py) and what their saved weights run as once converted; the Linears QAT
# fake-quantizes and converts: the decoder's (the embedding and the tied output head stay fp32)
QAT_SCHEMES = {"8da4w": "int8 activations, int4 weights", "w8a8": "int8 activations per token, int8 weights"}
QAT_COMPONENTS = "all-but-embeddings"


def qat_convert(net: nn.Module, scheme: str) -> nn.Module:
    """A QAT fine-tune's plain (saved) weights -> the model that runs: QAT's convert step, in place."""
    if scheme == "8da4w":
        return torchao_8da4w(net, QAT_COMPONENTS)
    return token_int8(net, QAT_COMPONENTS)


def token_int8(net: nn.Module, components: str, absmax: dict[str, torch.Tensor] | None = None) -> nn.Module:
    """TokenInt8Linear on the chosen Linears, in place; SmoothQuant where `absmax` (each Linear's input absmax on
    calibration text) is given, plain per-token int8 without it (QAT's w8a8 convert step)."""
    for name in chosen_linears(net, components):
        int8_recipe.swap(net, name, int8_layer(net, name, net.get_submodule(name), absmax[name] if absmax else None))
    return net


def int8_layer(net: nn.Module, name: str, linear: nn.Linear, absmax: torch.Tensor | None,
               alpha: float = SMOOTH_ALPHA) -> nn.Module:  # fmt: skip
    """The per-token int8 form of the Linear `name` in `net`: the output head, where it is tied to the embedding,
    with its best candidates rescored in fp32 (RescoredHead); any other Linear as TokenInt8Linear."""
    int8 = TokenInt8Linear(linear, absmax, alpha)
    if linear is net.get_output_embeddings() and linear.weight is net.get_input_embeddings().weight:
        return RescoredHead(int8, linear.weight)
    return int8


class RescoredHead(nn.Module):
    """The output head in int8 whose RESCORED best candidates get their exact logits back: the int8 logits pick them
    and their dot products are recomputed with the fp32 weights, which a tied head shares with the embedding (no
    memory added; the cost is RESCORED dot products per token). Greedy decoding then picks what the fp32 head picks
    whenever fp32's best token is among int8's best few. On 44 train dialogues (not the test split; a scratch
    measurement, SmoothQuant's maxima then from 4 examples) all-w8a8 picked fp32's greedy token at 93.3% of positions
    with a plain int8 head, 94.6% rescored (the same as an fp32 head). benchmarks/compression.py: 2.19-2.45x fp32's
    decode speed, 1.65-1.69x with the head in fp32, the same ROUGE-L on both test sets."""

    def __init__(self, int8: TokenInt8Linear, weight: nn.Parameter):
        super().__init__()
        self.int8, self.weight = int8, weight  # the embedding's own Parameter: tied, held once
        self.in_features, self.out_features = int8.in_features, int8.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.int8(x)
        best = logits.topk(RESCORED, dim=-1).indices
        exact = torch.einsum("...d,...kd->...k", x.float(), self.weight[best].float())
        return logits.scatter(-1, best, exact)


class Int4Linear(nn.Module):
    """A Linear whose weight is held as 4-bit integers packed two per byte, with a scale and a zero point per
    group of INT4_GROUP input weights, multiplied by PyTorch's CPU int4 kernel (weights are never unpacked)."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        weight = linear.weight.detach().float()  # (out, in)
        self.out_features, self.in_features = weight.shape
        groups = weight.reshape(-1, INT4_GROUP)
        low, high = groups.amin(dim=1, keepdim=True), groups.amax(dim=1, keepdim=True)
        scales = (high - low).clamp(min=1e-8) / 15
        codes = ((groups - low) / scales).round().clamp(0, 15).to(torch.int32).reshape(weight.shape)
        zeros = low + 8 * scales  # the kernel computes (code - 8) * scale + zero
        pairs = torch.cat([scales.reshape(self.out_features, -1, 1), zeros.reshape(self.out_features, -1, 1)], 2)
        self.register_buffer("packed", torch._convert_weight_to_int4pack_for_cpu(codes, 1))  # (out, in / 2) uint8
        self.register_buffer("scales_and_zeros", pairs.transpose(0, 1).contiguous())  # (in / group, out, 2)
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features).float()
        out = getattr(torch.ops.aten, INT4_KERNEL)(flat, self.packed, INT4_GROUP, self.scales_and_zeros)
        out = out.reshape(*x.shape[:-1], self.out_features).to(x.dtype)
        return out if self.bias is None else out + self.bias


def _int4_cpu(net: nn.Module, components: str) -> nn.Module:
    for name in chosen_linears(net, components):
        parent_name, _, leaf = name.rpartition(".")
        parent = net.get_submodule(parent_name) if parent_name else net
        linear = getattr(parent, leaf)
        if linear.in_features % INT4_GROUP:
            continue  # the kernel needs whole groups; such a layer stays fp32
        setattr(parent, leaf, Int4Linear(linear))
    return net


def _embedding_name(net: nn.Module) -> str:
    embedding = net.get_input_embeddings()
    return next(name for name, module in net.named_modules() if module is embedding)


def _bitsandbytes(base: Model, config: Config) -> nn.Module:
    """CUDA: bitsandbytes quantizes while loading, so the base is reloaded from its files (not copied)."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    skip = bitsandbytes_skip(config.components)
    if config.precision == "4bit":
        quantization = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16,
            llm_int8_skip_modules=skip,
        )  # fmt: skip
    else:
        quantization = BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=skip)
    source = str(cache_dir()) if base.spec == EMBEDDED_SPEC else base.spec
    # dtype: the parts left unquantized run in bf16 like the base (in fp32 the int8 kernels cast every input).
    return AutoModelForCausalLM.from_pretrained(source, quantization_config=quantization, device_map="cuda",
                                                dtype=torch.bfloat16)  # fmt: skip


def nf4_network(base: Model) -> nn.Module:
    """The base reloaded with every Linear but the output head in 4-bit NF4 (bf16 compute): QLoRA trains its
    adapters on this network, and a saved QLoRA adapter is scored on it again, as it will run."""
    reason = unavailable_reason("4bit") if torch.cuda.is_available() else "it needs a CUDA GPU (bitsandbytes NF4)"
    if reason:
        raise ValueError(f"The 4-bit NF4 base cannot be built here: {reason}")
    return _bitsandbytes(base, Config("4bit", "all-but-embeddings"))


def bitsandbytes_skip(components: str) -> list[str]:
    """Layer names bitsandbytes must leave alone for a component choice: every Linear type the choice does not
    cover (the same cover as chosen_linears on CPU), so sensitivity per layer type means the same on CUDA."""
    covered = {
        "attention": set(ATTENTION), "mlp": set(MLP), "all-but-embeddings": {*ATTENTION, *MLP},
        "all-but-down_proj": {*ATTENTION, "gate_proj", "up_proj"}, "everything": {*ATTENTION, *MLP, "lm_head"},
    }.get(components, {components})  # fmt: skip
    return [leaf for leaf in LAYER_TYPES if leaf not in covered]
