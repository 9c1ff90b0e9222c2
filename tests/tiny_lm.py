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
