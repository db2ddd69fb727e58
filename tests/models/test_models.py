"""Model shapes, masking, save/load round trip and strict loading errors (tiny configs)."""

from __future__ import annotations

import json

import pytest
import torch

from ecgemotion.errors import ConfigError, EcgEmotionError
from ecgemotion.models import (PRESETS, ModelConfig, count_parameters, create_model,
                               describe_model, flops_per_window, from_pretrained,
                               save_pretrained, span_mask)

TINY = {
    "paper": dict(window_len=256, d_model=32, n_heads=4, n_layers=1, d_ff=64,
                  conv_channels=[8, 16, 32], conv_kernels=[9, 5, 3], classifier_hidden=16),
    "fast": dict(window_len=256, d_model=32, n_heads=4, n_layers=1, d_ff=64,
                 conv_channels=[8, 16, 32], classifier_hidden=16),
    "cnn": dict(window_len=256, conv_channels=[8, 16, 32], conv_kernels=[9, 5, 3],
                conv_strides=[1, 2, 2], classifier_hidden=16),
    "sarkar": dict(window_len=256, conv_channels=[8, 16, 32], classifier_hidden=16),
}


def tiny(name: str, **kw):
    torch.manual_seed(0)
    return create_model(name, **{**TINY[name], **kw})


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_forward_shapes(name):
    model = tiny(name, n_classes=3).eval()
    x = torch.randn(2, 1, 256)
    out = model(x)
    assert out["logits"].shape == (2, 3)
    assert out["features"].ndim == 2
    if name == "sarkar":
        assert out["transform_logits"].shape == (2, 7)
        with pytest.raises(ConfigError):
            model.reconstruct(x, torch.zeros(2, 256, dtype=torch.bool))
    else:
        mask = span_mask(2, 256, 0.15, 32, torch.Generator().manual_seed(0))
        assert model.reconstruct(x, mask).shape == (2, 1, 256)


@pytest.mark.parametrize("mode", ["input", "embedding"])
@pytest.mark.parametrize("name", ["paper", "fast", "cnn"])
def test_masked_samples_do_not_leak(name, mode):
    """The prediction must not depend on the values under the mask."""
    model = tiny(name, mask_mode=mode).eval()
    x = torch.randn(1, 1, 256)
    mask = torch.zeros(1, 256, dtype=torch.bool)
    mask[:, 64:128] = True
    x2 = x.clone()
    x2[..., 64:128] = torch.randn(64) * 10
    torch.testing.assert_close(model.reconstruct(x, mask), model.reconstruct(x2, mask))


def test_full_presets_build_and_describe():
    for name in PRESETS:
        cfg = create_model(name).config
        assert cfg.window_len == 1280 and cfg.fs == 128.0
    assert create_model("fast").config.n_tokens + 1 <= 161
    info = describe_model("fast")
    # 4 layers over 41 tokens of width 128: about 2·41·(4·128² + 2·128·512)·4 ≈ 6.5e7 FLOPs
    assert 5e7 < info["flops_per_window_classify"] < 1.5e8 and info["parameters"] > 500_000
    assert describe_model("paper")["flops_per_window_classify"] > 10 * info["flops_per_window_classify"]
    json.dumps(info)


def test_attention_flops_counted_on_cpu():
    model = tiny("paper").eval()
    with_attn = flops_per_window(model)
    # attention over 257 tokens must be part of the count: at least 4 * N^2 * d per layer
    assert with_attn > 4 * 257 * 257 * 32
    assert flops_per_window(model, backward=True) > 2 * with_attn


def test_config_json_round_trip(tmp_path):
    cfg = create_model("fast", **TINY["fast"]).config
    cfg.save(tmp_path / "c.json")
    assert ModelConfig.load(tmp_path / "c.json") == cfg
    with pytest.raises(ConfigError, match="unknown model config field"):
        ModelConfig.from_dict({**cfg.to_dict(), "bogus": 1})
    with pytest.raises(ConfigError, match="unknown model"):
        create_model("nope")
    with pytest.raises(ConfigError, match="mask_mode"):
        create_model("fast", mask_mode="x")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_save_load_round_trip_exact(name, tmp_path):
    model = tiny(name)
    save_pretrained(model, tmp_path / "m")
    assert {p.name for p in (tmp_path / "m").iterdir()} == {"model.safetensors", "config.json"}
    loaded = from_pretrained(tmp_path / "m")
    assert loaded.config == model.config
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    x = torch.randn(2, 1, 256)
    assert torch.equal(model.eval()(x)["logits"], loaded.eval()(x)["logits"])


def test_strict_loading_errors(tmp_path):
    save_pretrained(tiny("fast"), tmp_path / "m")
    with pytest.raises(EcgEmotionError, match=r"'classifier\.net\.3\.bias' has shape \(2,\) in the file but \(5,\)"):
        from_pretrained(tmp_path / "m", n_classes=5)
    # unknown key in the file
    from safetensors.torch import load_file, save_file
    state = load_file(str(tmp_path / "m" / "model.safetensors"))
    state["extra.weight"] = torch.zeros(3)
    save_file(state, str(tmp_path / "m" / "model.safetensors"))
    with pytest.raises(EcgEmotionError, match="extra.weight"):
        from_pretrained(tmp_path / "m")
    # missing key
    del state["extra.weight"], state["recon_head.bias"]
    save_file(state, str(tmp_path / "m" / "model.safetensors"))
    with pytest.raises(EcgEmotionError, match="missing.*recon_head.bias"):
        from_pretrained(tmp_path / "m")
    # ... but an encoder-only load ignores the heads
    model = from_pretrained(tmp_path / "m", encoder_only=True, n_classes=5)
    assert model(torch.randn(1, 1, 256))["logits"].shape == (1, 5)


def test_encoder_only_keeps_encoder_and_fresh_head(tmp_path):
    src = tiny("paper")
    save_pretrained(src, tmp_path / "m")
    torch.manual_seed(123)
    dst = from_pretrained(tmp_path / "m", encoder_only=True, n_classes=4, classifier_hidden=8)
    assert torch.equal(dst.encoder.net[0].weight, src.encoder.net[0].weight)
    assert dst.classifier.net[-1].weight.shape == (4, 8)


def test_named_pretrained_missing_is_clear():
    with pytest.raises(EcgEmotionError, match="no pre-trained model named 'no-such-model'"):
        from_pretrained("no-such-model")


def test_corrupt_weights_file(tmp_path):
    save_pretrained(tiny("cnn"), tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(EcgEmotionError, match="cannot read safetensors"):
        from_pretrained(tmp_path / "m")


def test_missing_weights_file_is_named(tmp_path):
    """The one loader (predict, export and fine-tuning all use it) names the missing file."""
    save_pretrained(tiny("cnn"), tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").unlink()
    with pytest.raises(EcgEmotionError, match="m: expected model.safetensors beside config.json"):
        from_pretrained(tmp_path / "m")


def test_span_mask_ratio_and_spans():
    g = torch.Generator().manual_seed(0)
    m = span_mask(64, 1280, ratio=0.15, span=64, generator=g)
    assert m.dtype == torch.bool and m.shape == (64, 1280)
    assert abs(m.float().mean().item() - 0.15) < 0.01
    # contiguous runs of exactly `span` samples (runs may touch and merge into multiples)
    for row in m[:8]:
        edges = torch.diff(row.int(), prepend=torch.tensor([0]), append=torch.tensor([0]))
        starts, ends = (edges == 1).nonzero().flatten(), (edges == -1).nonzero().flatten()
        assert all((e - s) % 64 == 0 for s, e in zip(starts.tolist(), ends.tolist()))
    # reproducible with the same generator seed, different with another
    a = span_mask(4, 1280, generator=torch.Generator().manual_seed(1))
    b = span_mask(4, 1280, generator=torch.Generator().manual_seed(1))
    c = span_mask(4, 1280, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert span_mask(3, 256, ratio=0.3, span=32).float().mean().item() == pytest.approx(0.25, abs=0.07)


def test_count_parameters():
    model = tiny("cnn")
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())
    model.classifier.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) < count_parameters(model)


def test_wrong_input_shape_is_a_clear_error():
    model = tiny("fast").eval()
    with pytest.raises(ConfigError, match=r"\(batch, 1, time\)"):
        model(torch.randn(2, 256))
    with pytest.raises(ConfigError, match="does not fit this model"):
        model(torch.randn(1, 1, 1024))


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_saved_files_share_the_mode_the_umask_gives(umask, tmp_path):
    """safetensors writes 0600: weights and config.json must not differ in who can read them."""
    import os
    import stat

    previous = os.umask(umask)
    try:
        save_pretrained(tiny("fast"), tmp_path / "m")
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "m").iterdir()}
    assert modes == {"model.safetensors": 0o666 & ~umask, "config.json": 0o666 & ~umask}


def test_model_card_reads_an_old_untyped_extra():
    """A folder saved before the card existed loads: its extra fills the typed fields, the
    rest stays in details, and writing the card back gives the same extra."""
    from ecgemotion.errors import ConfigError
    from ecgemotion.io.model_files import ModelCard

    old = {"task": "valence", "classes": ["low", "high"], "positive_class_index": 1,
           "label_rule": "threshold:5", "preprocess": {"fs": 128.0, "window_s": 10.0},
           "val_metrics": {"accuracy": 0.7}, "init": "ecgemotion-base", "seed": 3}
    card = ModelCard.from_extra(old, "old/config.json", default_task="old")
    assert (card.task, card.label_rule, card.val_metrics) == ("valence", "threshold:5",
                                                              {"accuracy": 0.7})
    assert card.training_data == {} and card.synthetic == []
    assert card.details == {"init": "ecgemotion-base", "seed": 3}
    assert card.to_extra() == old
    with pytest.raises(ConfigError, match="enc/config.json: no preprocessing recorded"):
        ModelCard.from_extra({"task": "arousal"}, "enc/config.json", default_task="enc")


def test_plain_attention_is_scaled_dot_product_attention_and_used_in_cpu_bf16(monkeypatch):
    """The plain formula (faster than SDPA's fused CPU kernel under bf16 at short lengths)
    computes what ``F.scaled_dot_product_attention`` does, and is what a short bf16 CPU
    forward takes."""
    import torch.nn.functional as F

    from ecgemotion.models import blocks

    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 4, 17, 16)
    torch.testing.assert_close(blocks.plain_attention(q, k, v), F.scaled_dot_product_attention(q, k, v),
                               atol=1e-6, rtol=1e-5)
    attn, x, used = blocks.SelfAttention(64, 4, 0.1).eval(), torch.randn(3, 17, 64), []
    plain = blocks.plain_attention
    monkeypatch.setattr(blocks, "plain_attention", lambda *a: used.append(a[0].dtype) or plain(*a))
    fp32 = attn(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        torch.testing.assert_close(attn(x).float(), fp32, atol=0.05, rtol=0.05)
    assert used == [torch.bfloat16]                            # fp32 went through SDPA
