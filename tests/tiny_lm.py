"""A tiny, randomly initialised GPT-2 and a word-level tokenizer built in memory: real transformers objects,
nothing read from a hub. Used by the token-accounting and precision tests."""
from __future__ import annotations

WORDS = ("the cat sat on a mat and dog ran to park sun is hot cold day night energy joule token model "
         "small large fast slow green grid power water").split()
PAD, EOS = 0, 1  # ids of "[PAD]" and "[EOS]"


def tiny_gpt2(*, pad_token_id: int | None = PAD, eos_token_id: int = EOS, n_layer: int = 1, n_embd: int = 16,
              seed: int = 0):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(n_layer=n_layer, n_head=2, n_embd=n_embd, vocab_size=len(WORDS) + 2, n_positions=128,
                        bos_token_id=eos_token_id, eos_token_id=eos_token_id, pad_token_id=pad_token_id)
    model = GPT2LMHeadModel(config).eval()
    model.generation_config.pad_token_id = pad_token_id
    model.generation_config.eos_token_id = eos_token_id
    return model


def word_tokenizer():
    """A WordLevel tokenizer over :data:`WORDS` with [PAD]=0, [EOS]=1, left padding (decoder-only generation)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[PAD]": PAD, "[EOS]": EOS, **{w: i + 2 for i, w in enumerate(WORDS)}}
    core = Tokenizer(models.WordLevel(vocab, unk_token="[PAD]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="[PAD]", eos_token="[EOS]")
    tok.padding_side = "left"
    return tok


class ForceEos:
    """Logits processor: row ``row`` emits EOS as its ``after``-th new token; no other row ever emits EOS."""

    def __init__(self, prompt_len: int, row: int, after: int, eos: int = EOS):
        self.prompt_len, self.row, self.after, self.eos = prompt_len, row, after, eos

    def __call__(self, input_ids, scores):
        step = input_ids.shape[1] - self.prompt_len
        scores = scores.clone()
        scores[:, self.eos] = float("-inf")
        if step == self.after - 1:
            scores[self.row, :] = float("-inf")
            scores[self.row, self.eos] = 0.0
        return scores


def tiny_llama(*, hidden: int = 32, layers: int = 2, seed: int = 0):
    """A tiny randomly initialised Llama-architecture causal LM (nn.Linear projections, as most LLMs today)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(WORDS) + 2, hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=128, bos_token_id=EOS, eos_token_id=EOS, pad_token_id=PAD,
                         tie_word_embeddings=False)
    return LlamaForCausalLM(config).eval()


def pack_linear_layers(model, bits: int, *, layer_bits: bool, group_size: int = 16):
    """Replace the decoder's nn.Linear projections by modules with the GPTQ/AWQ packed layout: ``qweight`` int32
    holding 32/bits values each, ``qzeros`` int32, ``scales`` fp16, ``g_idx`` int32 and an fp16 ``bias`` buffer.

    ``layer_bits`` True gives each layer a ``bits`` attribute (auto-gptq/gptqmodel QuantLinear); False leaves the
    width to the model's ``quantization_config`` (as when only the config says it). Returns the replaced layers'
    logical weight count (in × out) and their bias count.
    """
    import torch

    class QuantLinear(torch.nn.Module):
        def __init__(self, linear):
            super().__init__()
            fin, fout = linear.in_features, linear.out_features
            if layer_bits:
                self.bits = bits
            self.in_features, self.out_features = fin, fout
            per_int = 32 // bits
            self.register_buffer("qweight", torch.zeros(fin // per_int, fout, dtype=torch.int32))
            self.register_buffer("qzeros", torch.zeros(fin // group_size, fout // per_int, dtype=torch.int32))
            self.register_buffer("scales", torch.ones(fin // group_size, fout, dtype=torch.float16))
            self.register_buffer("g_idx", torch.arange(fin, dtype=torch.int32) // group_size)
            self.register_buffer("bias", torch.zeros(fout, dtype=torch.float16))

    weights = biases = 0
    for layer in model.model.layers:
        for parent in (layer.self_attn, layer.mlp):
            for name, child in list(parent.named_children()):
                if isinstance(child, torch.nn.Linear):
                    setattr(parent, name, QuantLinear(child))
                    weights += child.in_features * child.out_features
                    biases += child.out_features
    return weights, biases
