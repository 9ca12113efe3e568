"""HTDemucs, the hybrid transformer Demucs (Demucs v4; Rouard, Massa & Defossez, "Hybrid Transformers for Music
Source Separation", ICASSP 2023), written for this project from the paper and demucs' MIT-licensed reference.

Two U-Nets see the same segment of the mix: one the waveform (strided 1-d convolutions), one its spectrogram as
complex-as-channels (real and imaginary parts of each audio channel; 2-d kernels striding over frequency). Their
bottoms meet in a cross-domain transformer; the spectrogram decoder's output is taken as each source's complex
spectrogram, inverted, and added to the waveform decoder's output. A forward call takes at most one segment
(``config.segment_samples`` samples at ``config.samplerate``) and zero-pads shorter input to it.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .config import HTDemucsConfig, check_config
from .layers import DecoderLayer, EncoderLayer, FrequencyEmbedding, rescale_convolutions
from .transformer import CrossTransformer


class HTDemucs(nn.Module):
    """The network for ``config``. ``forward(mix [B, audio_channels, L<=segment])`` ->
    ``[B, sources, audio_channels, L]``."""

    def __init__(self, config: HTDemucsConfig):
        super().__init__()
        self.config = config = check_config(config)
        self.sources = list(config.sources)
        self.encoder, self.decoder = nn.ModuleList(), nn.ModuleList()
        self.tencoder, self.tdecoder = nn.ModuleList(), nn.ModuleList()
        self.freq_emb = None
        chin = config.audio_channels
        chin_z = 2 * chin  # complex as channels
        chout = config.channels_time or config.channels
        chout_z = config.channels
        freqs = config.nfft // 2
        dconv_kw = {"depth": config.dconv_depth, "compress": config.dconv_comp, "init": config.dconv_init}
        for index in range(config.depth):
            common = {"kernel_size": config.kernel_size, "stride": config.stride, "norm": index >= config.norm_starts,
                      "norm_groups": config.norm_groups, "rewrite": config.rewrite, "dconv_kw": dconv_kw}
            encode = {"context": config.context_enc, "dconv": bool(config.dconv_mode & 1)}
            decode = {"context": config.context, "dconv": bool(config.dconv_mode & 2), "last": index == 0}
            self.encoder.append(EncoderLayer(chin_z, chout_z, freq=True, **common, **encode))
            self.tencoder.append(EncoderLayer(chin, chout, freq=False, **common, **encode))
            if index == 0:  # the decoders' outputs: every source's channels
                chin = config.audio_channels * len(config.sources)
                chin_z = 2 * chin
            self.decoder.insert(0, DecoderLayer(chout_z, chin_z, freq=True, **common, **decode))
            self.tdecoder.insert(0, DecoderLayer(chout, chin, freq=False, **common, **decode))
            chin, chin_z = chout, chout_z
            chout, chout_z = int(config.growth * chout), int(config.growth * chout_z)
            freqs //= config.stride
            if index == 0 and config.freq_emb:
                self.freq_emb = FrequencyEmbedding(freqs, chin_z, config.emb_scale, config.emb_smooth)
        if config.rescale:
            rescale_convolutions(self, config.rescale)
        bottom = config.channels * config.growth ** (config.depth - 1)
        if config.bottom_channels:
            self.channel_upsampler = nn.Conv1d(bottom, config.bottom_channels, 1)
            self.channel_downsampler = nn.Conv1d(config.bottom_channels, bottom, 1)
            self.channel_upsampler_t = nn.Conv1d(bottom, config.bottom_channels, 1)
            self.channel_downsampler_t = nn.Conv1d(config.bottom_channels, bottom, 1)
        self.crosstransformer = None
        if config.t_layers > 0:
            self.crosstransformer = CrossTransformer(
                config.transformer_channels, config.t_layers, config.t_heads, config.t_hidden_scale,
                norm_in=config.t_norm_in, norm_first=config.t_norm_first, norm_out=config.t_norm_out,
                layer_scale=config.t_layer_scale, gelu=config.t_gelu, max_period=config.t_max_period,
                weight_pos_embed=config.t_weight_pos_embed, cross_first=config.t_cross_first)

    # ------------------------------------------------------------------------------------------- spectrogram
    def spectrogram(self, x):
        """Complex STFT [B, C, nfft/2, ceil(L / hop)] of [B, C, L]: the signal reflect-padded by 3/2 hop on each side
        (and to a whole number of hops), Hann window, normalised; the Nyquist bin and the 2 edge frames dropped,
        so frame i is centred on sample (i + 1/2) hop."""
        hop, nfft = self.config.hop_length, self.config.nfft
        frames = math.ceil(x.shape[-1] / hop)
        pad = hop // 2 * 3
        x = F.pad(x, (pad, pad + frames * hop - x.shape[-1]), mode="reflect")
        flat = x.reshape(-1, x.shape[-1])
        window = torch.hann_window(nfft, device=x.device, dtype=x.dtype)
        z = torch.stft(flat, nfft, hop, window=window, win_length=nfft, normalized=True, center=True,
                       return_complex=True, pad_mode="reflect")
        z = z.view(*x.shape[:-1], *z.shape[-2:])
        return z[..., :-1, 2:2 + frames]

    def inverse_spectrogram(self, z, length: int):
        """Waveform [..., length] of a spectrogram in the layout of :meth:`spectrogram`."""
        hop, nfft = self.config.hop_length, self.config.nfft
        z = F.pad(z, (2, 2, 0, 1))
        pad = hop // 2 * 3
        padded = hop * math.ceil(length / hop) + 2 * pad
        flat = z.reshape(-1, *z.shape[-2:])
        window = torch.hann_window(nfft, device=flat.device, dtype=flat.real.dtype)
        x = torch.istft(flat, nfft, hop, window=window, win_length=nfft, normalized=True, length=padded, center=True)
        return x.view(*z.shape[:-2], padded)[..., pad:pad + length]

    # ------------------------------------------------------------------------------------------- forward
    def forward(self, mix):
        length = mix.shape[-1]
        segment = self.config.segment_samples if self.config.use_train_segment else length
        if length > segment:
            raise ValueError(f"HTDemucs takes at most {segment} samples per call, got {length}")
        if length < segment:
            mix = F.pad(mix, (0, segment - length))
        complex_elsewhere = mix.device.type in ("mps", "xpu")  # no complex numbers there: the STFTs on the CPU
        z = self.spectrogram(mix.cpu() if complex_elsewhere else mix)
        batch, channels, bins, frames = z.shape
        x = torch.view_as_real(z).permute(0, 1, 4, 2, 3).reshape(batch, 2 * channels, bins, frames).to(mix.device)
        mean, std = x.mean(dim=(1, 2, 3), keepdim=True), x.std(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) / (1e-5 + std)
        mean_t, std_t = mix.mean(dim=(1, 2), keepdim=True), mix.std(dim=(1, 2), keepdim=True)
        xt = (mix - mean_t) / (1e-5 + std_t)

        skips, skips_t, lengths, lengths_t = [], [], [], []
        for index, (encode, encode_t) in enumerate(zip(self.encoder, self.tencoder)):
            lengths.append(x.shape[-1])
            lengths_t.append(xt.shape[-1])
            xt = encode_t(xt)
            skips_t.append(xt)
            x = encode(x)
            if index == 0 and self.freq_emb is not None:
                x = x + self.config.freq_emb * self.freq_emb(x.shape[-2])
            skips.append(x)
        if self.crosstransformer is not None:
            if self.config.bottom_channels:
                b, c, f, t = x.shape
                x = self.channel_upsampler(x.reshape(b, c, f * t)).view(b, -1, f, t)
                xt = self.channel_upsampler_t(xt)
            x, xt = self.crosstransformer(x, xt)
            if self.config.bottom_channels:
                b, c, f, t = x.shape
                x = self.channel_downsampler(x.reshape(b, c, f * t)).view(b, -1, f, t)
                xt = self.channel_downsampler_t(xt)
        for decode, decode_t in zip(self.decoder, self.tdecoder):
            x, _ = decode(x, skips.pop(), lengths.pop())
            xt, _ = decode_t(xt, skips_t.pop(), lengths_t.pop())

        sources = len(self.sources)
        x = x.view(batch, sources, -1, bins, frames) * std[:, None] + mean[:, None]
        spectra = x.view(batch, sources, -1, 2, bins, frames).permute(0, 1, 2, 4, 5, 3)
        if complex_elsewhere:
            spectra = spectra.cpu()
        waves = self.inverse_spectrogram(torch.view_as_complex(spectra.contiguous()), segment).to(mix.device)
        xt = xt.view(batch, sources, -1, segment) * std_t[:, None] + mean_t[:, None]
        return (xt + waves)[..., :length]


def build_htdemucs(config: HTDemucsConfig, device="cpu", seed: int | None = None) -> HTDemucs:
    """A network for ``config`` on ``device`` in eval mode: random weights drawn from ``seed`` (CPU generator), or
    uninitialised shapes only when ``device`` is "meta"."""
    if str(device) == "meta":
        with torch.device("meta"):
            return HTDemucs(config).eval()
    state = torch.random.get_rng_state()
    try:
        if seed is not None:
            torch.manual_seed(int(seed))
        model = HTDemucs(config)
    finally:
        if seed is not None:
            torch.random.set_rng_state(state)
    return model.to(device).eval().requires_grad_(False)
