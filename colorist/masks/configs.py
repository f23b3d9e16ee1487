"""Model configs for the mask models, and random models built from them.

Nothing is downloaded: tests and benchmarks build random SAM, GroundingDINO and CLIPSeg
models from these configs. ``"tiny"`` is for tests (a second or two on CPU); the other
sizes are the real architectures with random weights (benchmarks, ONNX file sizes):
``sam: vit-b | vit-l | vit-h``, ``dino: swin-t`` (grounding-dino-tiny, the thesis' Swin-T
OGC), ``clipseg: rd64`` (CIDAS/clipseg-rd64-refined).
"""

from __future__ import annotations

from pathlib import Path

# Words the tiny tokenizers know: COCO categories of the demo data plus prompt words.
_WORDS = """
a an the of car bus truck dog cat bear teddy sheep sink sign stop fire hydrant train bird boat
bench chair couch bed horse cow zebra giraffe umbrella kite plane airplane motorcycle bicycle
bike person man woman toilet vase clock cup bowl banana apple orange carrot pizza donut cake
laptop phone book shape square circle object
"""
TINY_WORDS = tuple(_WORDS.split())

SAM_SIZES = {  # hidden, layers, heads, global attention blocks (segment-anything's builders)
    "vit-b": (768, 12, 12, [2, 5, 8, 11]),
    "vit-l": (1024, 24, 16, [5, 11, 17, 23]),
    "vit-h": (1280, 32, 16, [7, 15, 23, 31]),
}


def _randomize(model, seed: int, std: float = 0.1):
    """Random-init weights give near-zero activations in some heads (SAM's embeddings come
    out ~1e-27); normal(0, std) weights make the outputs O(1) so comparisons mean
    something."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * std)
    return model.eval()


def _randomize_fan_in(model, seed: int):
    """Real-size models: matrices and kernels ~ N(0, 1/fan_in), norms and biases as built.
    (The default init leaves SAM's embeddings ~1e-19 at ViT-B size, which would make the
    ONNX Runtime vs PyTorch comparison meaningless.)"""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim >= 2:
                p.copy_(torch.randn(p.shape, generator=g) / p[0].numel() ** 0.5)
    return model.eval()


def sam_config(size: str = "tiny"):
    from transformers import (
        SamConfig,
        SamMaskDecoderConfig,
        SamPromptEncoderConfig,
        SamVisionConfig,
    )

    if size == "tiny":
        v = SamVisionConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            mlp_dim=64, image_size=128, patch_size=16, output_channels=32,
                            window_size=4, global_attn_indexes=[1], num_pos_feats=16)
        p = SamPromptEncoderConfig(hidden_size=32, image_size=128, patch_size=16,
                                   mask_input_channels=16)
        d = SamMaskDecoderConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                 mlp_dim=64, iou_head_hidden_dim=32)
        return SamConfig(vision_config=v, prompt_encoder_config=p, mask_decoder_config=d)
    if size not in SAM_SIZES:
        raise ValueError(f"unknown SAM size {size!r}: tiny, {', '.join(SAM_SIZES)}")
    hidden, layers, heads, glob = SAM_SIZES[size]
    v = SamVisionConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                        global_attn_indexes=glob, mlp_dim=4 * hidden)
    return SamConfig(vision_config=v)


def dino_config(size: str = "tiny"):
    from transformers import BertConfig, GroundingDinoConfig, SwinConfig

    if size == "swin-t":
        return GroundingDinoConfig()  # grounding-dino-tiny: Swin-T + BERT-base, 900 queries
    if size != "tiny":
        raise ValueError(f"unknown GroundingDINO size {size!r}: tiny, swin-t")
    swin = SwinConfig(embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=4,
                      image_size=64, out_features=["stage2", "stage3", "stage4"])
    bert = BertConfig(vocab_size=len(TINY_WORDS) + 16, hidden_size=32, num_hidden_layers=1,
                      num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    # decoder_layers >= 2: transformers ties bbox_embed.0 to the others
    return GroundingDinoConfig(
        backbone_config=swin, text_config=bert, d_model=32, encoder_layers=1, decoder_layers=2,
        encoder_ffn_dim=64, decoder_ffn_dim=64, encoder_attention_heads=2,
        decoder_attention_heads=2, num_queries=20, max_text_len=32, encoder_n_points=2,
        decoder_n_points=2, disable_custom_kernels=True)


def clipseg_config(size: str = "tiny", vocab_size: int = 49408, eos_token_id: int = 49407):
    from transformers import CLIPSegConfig

    text = {"vocab_size": vocab_size, "eos_token_id": eos_token_id,
            "bos_token_id": eos_token_id - 1, "pad_token_id": eos_token_id}
    if size == "rd64":
        return CLIPSegConfig(text_config=text, vision_config={"patch_size": 16},
                             reduce_dim=64)
    if size != "tiny":
        raise ValueError(f"unknown CLIPSeg size {size!r}: tiny, rd64")
    text.update(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=24)
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3,
              "num_attention_heads": 2, "image_size": 64, "patch_size": 16}
    return CLIPSegConfig(text_config=text, vision_config=vision, projection_dim=16,
                         reduce_dim=16, extract_layers=[1, 2], decoder_num_attention_heads=2,
                         decoder_intermediate_size=32)


BERT_BASE_IDS = {"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103,
                 ".": 1012, "?": 1029, ",": 1010}


def build_bert_tokenizer(words=TINY_WORDS, bert_base_layout: bool = False):
    """A WordPiece ``BertTokenizer`` over a small vocabulary (``[UNK]`` for other words).

    ``bert_base_layout``: 30,522 ids with the special tokens and ``. ?`` at
    bert-base-uncased's ids (101, 102, 1012, 1029; GroundingDINO hard-codes these), the
    words from id 2000 and ``[unused]`` fillers elsewhere (real-size benchmarks)."""
    from transformers import BertTokenizer

    if bert_base_layout:
        vocab = [f"[unused{i}]" for i in range(30522)]
        for tok, i in BERT_BASE_IDS.items():
            vocab[i] = tok
        for k, w in enumerate(dict.fromkeys(words)):
            vocab[2000 + k] = w
    else:
        vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "?", ","]
        vocab += [w for w in dict.fromkeys(words) if w not in vocab]
    return BertTokenizer(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=True)


def build_sam(size: str = "tiny", out: str | Path | None = None, seed: int = 0):
    """A random ``SamModel`` (saved with ``save_pretrained`` to ``out`` when given)."""
    from transformers import SamModel

    model = SamModel(sam_config(size))
    model = _randomize(model, seed) if size == "tiny" else _randomize_fan_in(model, seed)
    if out is not None:
        model.save_pretrained(out)
    return model


def build_dino(size: str = "tiny", out: str | Path | None = None, seed: int = 0):
    """A random ``GroundingDinoForObjectDetection`` and its tokenizer (both saved to ``out``).

    The tiny model's tokenizer is a 70-word BERT vocabulary; its special-token buffer is set
    to that vocabulary's ``[CLS] [SEP] . ?`` ids so that PyTorch and ONNX agree."""
    import torch
    from transformers import GroundingDinoForObjectDetection

    tokenizer = build_bert_tokenizer(bert_base_layout=size != "tiny")
    torch.manual_seed(seed)
    model = GroundingDinoForObjectDetection(dino_config(size))
    if size == "tiny":
        model = _randomize(model, seed, std=0.2)
        ids = tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]", ".", "?"])
        model.model.special_tokens.copy_(torch.tensor(ids))
    else:
        model = _randomize_fan_in(model, seed)
    if out is not None:
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
    return model, tokenizer


def build_clipseg(size: str = "tiny", out: str | Path | None = None, seed: int = 0):
    """A random ``CLIPSegForImageSegmentation`` and a CLIP tokenizer (saved to ``out``)."""
    import torch
    from transformers import CLIPSegForImageSegmentation

    from colorist.models.tiny import BASE_WORDS, SPECIAL, build_word_tokenizer

    tokenizer = build_word_tokenizer([*BASE_WORDS, *TINY_WORDS])
    if size == "tiny":
        cfg = clipseg_config(size, vocab_size=len(tokenizer),
                             eos_token_id=tokenizer.convert_tokens_to_ids(SPECIAL[1]))
    else:
        cfg = clipseg_config(size)
    torch.manual_seed(seed)
    model = CLIPSegForImageSegmentation(cfg)
    model = _randomize(model, seed) if size == "tiny" else _randomize_fan_in(model, seed)
    if out is not None:
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
    return model, tokenizer
