//! A BERT encoder for sentence embeddings whose dense layers run on 8-bit weights.
//!
//! The f32 BERT of candle spends most of a short prompt's forward pass in small f32 matrix
//! products (16 rows against 384×384 and 384×1536 weights). Here every dense layer's weights are
//! quantized once at load (ggml's Q8_0: blocks of 32 signed bytes and one scale), and candle's
//! quantized matmul runs them with integer dot products: on a CPU with AVX-512 VNNI, in its tiled
//! kernels (inputs padded with zeros to a multiple of 256 values; query, key and value fused into
//! one product so their input is quantized once). Embeddings, layer norms, attention scores and
//! pooling stay f32. A weight matrix whose width is not a multiple of 32 stays f32. Without VNNI
//! the 8-bit path loses to f32 on longer inputs, so [`Bert::load`](super::embedder::Bert::load)
//! keeps f32 there. The loss is measured, not assumed: see docs/performance.md.

use anyhow::{Context, Result};
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{D, DType, Module, Tensor};
use candle_nn::{Embedding, LayerNorm, VarBuilder, embedding, layer_norm};
use candle_transformers::models::bert::Config;

/// candle's fastest 8-bit kernels (AVX-512 VNNI, weights repacked in tiles) take inputs in
/// multiples of this many values; narrower layers are padded with zeros to reach it.
const VNNI_WIDTH: usize = 256;

/// Whether this CPU runs candle's AVX-512 VNNI kernels for 8-bit weights.
pub fn has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Weights of a dense layer: 8-bit, or f32 when asked or when they cannot be quantized.
struct Dense {
    weight: QMatMul,
    bias: Tensor,
    /// Zeros appended to each input row to reach the kernels' width (8-bit only).
    pad: usize,
}

impl Dense {
    fn load(vb: VarBuilder, inputs: usize, outputs: usize, quantize: bool) -> Result<Dense> {
        Dense::new(
            vb.get((outputs, inputs), "weight")?,
            vb.get(outputs, "bias")?,
            quantize,
        )
    }

    /// Several layers that read the same input as one (their outputs side by side), so the
    /// input is padded and quantized once.
    fn fused(vbs: &[VarBuilder], inputs: usize, outputs: usize, quantize: bool) -> Result<Dense> {
        let weights = vbs
            .iter()
            .map(|vb| vb.get((outputs, inputs), "weight"))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let biases = vbs
            .iter()
            .map(|vb| vb.get(outputs, "bias"))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Dense::new(
            Tensor::cat(&weights, 0)?,
            Tensor::cat(&biases, 0)?,
            quantize,
        )
    }

    fn new(weight: Tensor, bias: Tensor, quantize: bool) -> Result<Dense> {
        let inputs = weight.dim(1)?;
        if !quantize || !inputs.is_multiple_of(32) {
            return Ok(Dense {
                weight: QMatMul::Tensor(weight),
                bias,
                pad: 0,
            });
        }
        // Zero columns change no product and let the tiled kernels take the layer.
        let pad = match has_vnni() {
            true => inputs.next_multiple_of(VNNI_WIDTH) - inputs,
            false => 0,
        };
        let weight = weight.pad_with_zeros(D::Minus1, 0, pad)?;
        Ok(Dense {
            weight: QMatMul::from_qtensor(QTensor::quantize(&weight, GgmlDType::Q8_0)?)?,
            bias,
            pad,
        })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let out = match self.pad {
            0 => self.weight.forward(xs)?,
            pad => self
                .weight
                .forward(&xs.pad_with_zeros(D::Minus1, 0, pad)?)?,
        };
        Ok(out.broadcast_add(&self.bias)?)
    }
}

struct Layer {
    /// Query, key and value, side by side.
    qkv: Dense,
    attention_out: Dense,
    attention_norm: LayerNorm,
    intermediate: Dense,
    output: Dense,
    output_norm: LayerNorm,
}

impl Layer {
    fn load(vb: VarBuilder, c: &Config, quantize: bool) -> Result<Layer> {
        let (h, i) = (c.hidden_size, c.intermediate_size);
        let attention = vb.pp("attention");
        let dense = |vb: VarBuilder, inputs, outputs| Dense::load(vb, inputs, outputs, quantize);
        let own = attention.pp("self");
        let qkv = [own.pp("query"), own.pp("key"), own.pp("value")];
        Ok(Layer {
            qkv: Dense::fused(&qkv, h, h, quantize)?,
            attention_out: dense(attention.pp("output").pp("dense"), h, h)?,
            attention_norm: layer_norm(
                h,
                c.layer_norm_eps,
                attention.pp("output").pp("LayerNorm"),
            )?,
            intermediate: dense(vb.pp("intermediate").pp("dense"), h, i)?,
            output: dense(vb.pp("output").pp("dense"), i, h)?,
            output_norm: layer_norm(h, c.layer_norm_eps, vb.pp("output").pp("LayerNorm"))?,
        })
    }
}

/// The encoder: token, position and type embeddings, then the layers.
pub struct Encoder {
    words: Embedding,
    positions: Embedding,
    types: Embedding,
    norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
}

impl Encoder {
    /// Loads the weights under `vb` (with or without a `bert.` prefix); `quantize` puts the
    /// dense layers on 8-bit weights.
    pub fn load(vb: VarBuilder, c: &Config, quantize: bool) -> Result<Encoder> {
        let vb = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") {
            vb.pp("bert")
        } else {
            vb
        };
        let e = vb.pp("embeddings");
        let layers = (0..c.num_hidden_layers)
            .map(|n| Layer::load(vb.pp("encoder").pp(format!("layer.{n}")), c, quantize))
            .collect::<Result<_>>()
            .context("the encoder layers")?;
        Ok(Encoder {
            words: embedding(c.vocab_size, c.hidden_size, e.pp("word_embeddings"))?,
            positions: embedding(
                c.max_position_embeddings,
                c.hidden_size,
                e.pp("position_embeddings"),
            )?,
            types: embedding(
                c.type_vocab_size,
                c.hidden_size,
                e.pp("token_type_embeddings"),
            )?,
            norm: layer_norm(c.hidden_size, c.layer_norm_eps, e.pp("LayerNorm"))?,
            layers,
            heads: c.num_attention_heads,
        })
    }

    /// The last hidden states (batch, tokens, hidden) of `ids` with their type ids and
    /// attention mask (1 for a token, 0 for padding), all (batch, tokens).
    pub fn forward(&self, ids: &Tensor, types: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (batch, tokens) = ids.dims2()?;
        let positions = Tensor::arange(0u32, tokens as u32, ids.device())?;
        let xs = (self.words.forward(ids)? + self.types.forward(types)?)?
            .broadcast_add(&self.positions.forward(&positions)?)?;
        let mut xs = self.norm.forward(&xs)?;
        // Padding gets a large negative score before the softmax: (batch, 1, 1, tokens).
        let bias = ((mask.to_dtype(DType::F32)? - 1.0)? * 1e9)?.reshape((batch, 1, 1, tokens))?;
        for layer in &self.layers {
            xs = self.layer(layer, &xs, &bias)?;
        }
        Ok(xs)
    }

    fn layer(&self, l: &Layer, xs: &Tensor, bias: &Tensor) -> Result<Tensor> {
        let (batch, tokens, hidden) = xs.dims3()?;
        let size = hidden / self.heads;
        let heads = |t: Tensor| -> Result<Tensor> {
            Ok(t.reshape((batch, tokens, self.heads, size))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let qkv = l.qkv.forward(xs)?;
        let q = heads(qkv.narrow(D::Minus1, 0, hidden)?)?;
        let k = heads(qkv.narrow(D::Minus1, hidden, hidden)?)?;
        let v = heads(qkv.narrow(D::Minus1, 2 * hidden, hidden)?)?;
        let scores = (q.matmul(&k.t()?)? / (size as f64).sqrt())?.broadcast_add(bias)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((batch, tokens, hidden))?;
        let attended = l
            .attention_norm
            .forward(&(l.attention_out.forward(&context)? + xs)?)?;
        let inner = l.intermediate.forward(&attended)?.gelu_erf()?;
        Ok(l.output_norm
            .forward(&(l.output.forward(&inner)? + &attended)?)?)
    }
}

/// How a sentence-transformer turns token states into one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// The mean over the real tokens (MiniLM and most sentence-transformers).
    Mean,
    /// The first token's state (`[CLS]`; the BGE family).
    Cls,
}

impl Pooling {
    /// The pooling that `1_Pooling/config.json` beside the model's `config.json` names, if that
    /// file is there (sentence-transformers' layout); mean pooling otherwise.
    pub fn beside(config: &std::path::Path) -> Pooling {
        let file = config
            .parent()
            .map(|dir| dir.join("1_Pooling").join("config.json"));
        let cls = file
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .is_some_and(|v| v["pooling_mode_cls_token"] == serde_json::Value::Bool(true));
        if cls { Pooling::Cls } else { Pooling::Mean }
    }
}

/// The pooled hidden states, scaled to unit length: one row per text.
pub fn pool(pooling: Pooling, hidden: &Tensor, mask: &Tensor) -> Result<Vec<Vec<f32>>> {
    let pooled = match pooling {
        Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
        Pooling::Mean => {
            let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
            summed.broadcast_div(&mask.sum(1)?)?
        }
    };
    let norms = pooled
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f32::MAX)?;
    Ok(pooled.broadcast_div(&norms)?.to_vec2::<f32>()?)
}
