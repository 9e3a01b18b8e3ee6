//! The chat-model families the embedded engine runs, picked by a GGUF file's
//! `general.architecture` (candle's quantized models), and the chat template each is prompted
//! with, picked by the special tokens in the file's own vocabulary.

use anyhow::{Result, anyhow};
use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama;

use super::qwen2::Qwen2;
use tokenizers::Tokenizer;

/// The architectures the engine loads (`general.architecture`).
pub const SUPPORTED: [&str; 2] = ["qwen2", "llama"];

/// Refuses an architecture the engine cannot load, before any work is done on the file.
pub fn check(arch: &str) -> Result<()> {
    if SUPPORTED.contains(&arch) {
        return Ok(());
    }
    Err(anyhow!(
        "architecture {arch:?}; the embedded engine runs {} models",
        SUPPORTED.join(", ")
    ))
}

/// A loaded model of one of the [`SUPPORTED`] architectures.
pub enum Weights {
    /// Our own Qwen2 ([`super::qwen2`]), which keeps the token embedding quantized.
    Qwen2(Qwen2),
    Llama(quantized_llama::ModelWeights),
}

impl Weights {
    /// Loads a model of architecture `arch` (the file's `general.architecture`).
    pub fn load<R: std::io::Seek + std::io::Read>(
        arch: &str,
        content: gguf_file::Content,
        reader: &mut R,
    ) -> Result<Weights> {
        check(arch)?;
        let device = &Device::Cpu;
        Ok(if arch == "llama" {
            Weights::Llama(quantized_llama::ModelWeights::from_gguf(
                content, reader, device,
            )?)
        } else {
            Weights::Qwen2(Qwen2::from_gguf(content, reader)?)
        })
    }

    /// The logits of the token after `x` (a `(1, n)` tensor of token ids at `position`); a
    /// forward pass at position 0 starts a new sequence (the cache of the last one is dropped).
    pub fn forward(&mut self, x: &Tensor, position: usize) -> candle_core::Result<Tensor> {
        match self {
            Weights::Qwen2(m) => m.forward(x, position),
            Weights::Llama(m) => {
                if position == 0 {
                    m.clear_kv_cache();
                }
                m.forward(x, position)
            }
        }
    }
}

/// How a conversation is laid out for the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// `<|im_start|>role … <|im_end|>`: Qwen2, SmolLM2 and other ChatML models.
    ChatMl,
    /// `<|start_header_id|>role<|end_header_id|> … <|eot_id|>`: Llama 3.
    Llama3,
}

impl Template {
    /// The template whose special tokens the vocabulary has.
    pub fn of(tokenizer: &Tokenizer) -> Result<Template> {
        if tokenizer.token_to_id("<|im_start|>").is_some() {
            Ok(Template::ChatMl)
        } else if tokenizer.token_to_id("<|start_header_id|>").is_some() {
            Ok(Template::Llama3)
        } else {
            Err(anyhow!(
                "the model's vocabulary has no chat template this engine knows (ChatML or Llama 3)"
            ))
        }
    }

    /// The tokens that end the model's turn.
    pub fn stops(self) -> &'static [&'static str] {
        match self {
            Template::ChatMl => &["<|im_end|>", "<|endoftext|>"],
            Template::Llama3 => &["<|eot_id|>", "<|end_of_text|>"],
        }
    }

    /// The prompt for `messages` (`(role, content)` pairs), with a short system turn when the
    /// request has none, ending where the assistant's turn begins.
    pub fn prompt(self, messages: &[(&str, &str)]) -> String {
        const SYSTEM: &str = "You are a helpful coding assistant. Answer concisely.";
        let turn = |out: &mut String, role: &str, content: &str| match self {
            Template::ChatMl => {
                out.push_str(&format!("<|im_start|>{role}\n{content}<|im_end|>\n"));
            }
            Template::Llama3 => out.push_str(&format!(
                "<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>"
            )),
        };
        let mut out = String::new();
        if self == Template::Llama3 {
            out.push_str("<|begin_of_text|>");
        }
        if messages.first().is_none_or(|(role, _)| *role != "system") {
            turn(&mut out, "system", SYSTEM);
        }
        for (role, content) in messages {
            turn(&mut out, role, content);
        }
        match self {
            Template::ChatMl => out.push_str("<|im_start|>assistant\n"),
            Template::Llama3 => out.push_str("<|start_header_id|>assistant<|end_header_id|>\n\n"),
        }
        out
    }
}

/// The tokenizer of a GGUF file, from its metadata. candle builds it, but lays out the
/// pre-tokenizer of a few byte-level vocabularies wrongly; those are fixed here to what the
/// model was trained with (checked against llama.cpp's tokenization, see the tests).
pub fn tokenizer(content: &gguf_file::Content) -> Result<Tokenizer> {
    use candle_core::quantized::tokenizer::TokenizerFromGguf;
    use tokenizers::pre_tokenizers::{byte_level::ByteLevel, digits::Digits, sequence::Sequence};
    let mut tokenizer = Tokenizer::from_gguf(content).map_err(|e| anyhow!("{e}"))?;
    let pre = content
        .metadata
        .get("tokenizer.ggml.pre")
        .and_then(|v| v.to_string().ok())
        .map(String::as_str);
    if pre == Some("smollm") {
        // SmolLM2: every digit on its own, then byte-level BPE without a leading space.
        tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
            Digits::new(true).into(),
            ByteLevel::new(false, true, true).into(),
        ])));
    }
    Ok(tokenizer)
}

#[cfg(test)]
mod tests {
    use super::Template;

    #[test]
    fn conversations_are_laid_out_in_the_models_template() {
        let chat = [("user", "Hi")];
        assert_eq!(
            Template::ChatMl.prompt(&chat),
            "<|im_start|>system\nYou are a helpful coding assistant. Answer concisely.<|im_end|>\n\
             <|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
        let with_system = [("system", "Be brief."), ("user", "Hi")];
        assert_eq!(
            Template::Llama3.prompt(&with_system),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>\
             <|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>\
             <|start_header_id|>assistant<|end_header_id|>\n\n"
        );
    }
}
