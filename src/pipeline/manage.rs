//! Seeing into and steering the caches: list entries, explain recent misses, forget an answer
//! everywhere it is stored, clear, export and import. The control socket (`isartor cache …`) and
//! the gateway's `/admin/cache/…` routes both send a [`CacheCommand`] here and get its answer as
//! JSON, so the two can never disagree.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Pipeline;
use super::misses::{self, Missed, Why};
use crate::exchange::Reply;
use crate::exchange::key::{self, CacheKey};
use crate::store::vectors::Item;
use crate::store::{Listed, Meta, unix_ms};

/// Fewest key characters `forget` accepts, so a slip cannot name half the cache.
const PREFIX_MIN: usize = 6;
/// The export format's version.
const EXPORT_VERSION: u32 = 1;

/// What a client asks of the caches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum CacheCommand {
    /// The most recent entries, newest first.
    Ls {
        limit: usize,
        #[serde(default)]
        client: Option<String>,
    },
    /// Explains the `n`th most recent miss (1: the last).
    Why {
        n: usize,
    },
    Forget {
        target: Target,
    },
    /// Removes every entry of the layers named (both when neither is).
    Clear {
        #[serde(default)]
        exact: bool,
        #[serde(default)]
        semantic: bool,
    },
    /// Every entry, as JSON lines (a header line first).
    Export,
    /// Takes exported lines.
    Import {
        lines: Vec<String>,
    },
}

/// Which answer `forget` removes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Entries whose key (exact) or id (semantic) begins with these hex characters.
    Prefix(String),
    /// The answer the last request got or stored.
    Last,
    /// Entries whose last user turn is this text.
    Prompt(String),
}

/// One entry as `isartor cache ls` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    pub key: String,
    /// `exact` or `semantic`.
    pub kind: String,
    /// The layer whose answer it is (`L3`, `L2`; `L1b` for the exact copy of a semantic hit).
    pub layer: String,
    pub model: String,
    pub client: String,
    pub age_secs: u64,
    /// Seconds it is fresh still (0: kept only for stale-if-error).
    pub ttl_secs: u64,
    pub hits: u64,
    /// The reply's size in bytes (its text and tool calls).
    pub size: u64,
    pub preview: String,
}

/// What `forget` and `clear` removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forgotten {
    pub exact: u64,
    pub semantic: u64,
}

/// What `import` took and skipped, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Imported {
    pub taken: u64,
    pub skipped: BTreeMap<String, u64>,
}

/// One exported line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Header {
        version: u32,
        key_version: String,
        /// The model of the semantic entries' vectors.
        embedding_model: Option<String>,
        exported_at_ms: u64,
    },
    Exact {
        key: String,
        ttl_secs: u64,
        meta: Meta,
        reply: Reply,
    },
    Semantic {
        group: String,
        text: String,
        vector: Vec<f32>,
        ttl_secs: u64,
        meta: Meta,
        reply: Reply,
    },
}

/// What the last request was answered from or stored in, for `forget --last`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Touched {
    pub exact: Option<CacheKey>,
    pub semantic: Option<CacheKey>,
}

fn size(reply: &Reply) -> u64 {
    serde_json::to_vec(reply).map_or(0, |v| v.len() as u64)
}

fn hex_key(hex: &str) -> Option<CacheKey> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(hex, &mut key).ok()?;
    Some(CacheKey(key))
}

/// The hash `Meta::prompt` holds for a last user turn.
pub fn prompt_hash(text: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(text.trim().as_bytes())[..16])
}

impl Pipeline {
    /// Runs one cache command; its answer as JSON, or why it cannot be done.
    pub async fn cache(&self, command: CacheCommand) -> Result<Value, String> {
        fn json<T: Serialize>(v: T) -> Value {
            serde_json::to_value(v).unwrap_or_default()
        }
        match command {
            CacheCommand::Ls { limit, client } => Ok(json(self.listing(limit, client).await?)),
            CacheCommand::Why { n } => Ok(json(self.why(n).await?)),
            CacheCommand::Forget { target } => Ok(json(self.forget(target).await?)),
            CacheCommand::Clear { exact, semantic } => {
                let both = !exact && !semantic;
                Ok(json(self.clear(exact || both, semantic || both).await?))
            }
            CacheCommand::Export => Ok(json(self.export().await?)),
            CacheCommand::Import { lines } => Ok(json(self.import(&lines).await)),
        }
    }

    async fn exact_entries(&self) -> Result<Vec<Listed>, String> {
        match &self.exact {
            Some(exact) => exact.store().list().await.map_err(|e| e.to_string()),
            None => Ok(Vec::new()),
        }
    }

    async fn listing(&self, limit: usize, client: Option<String>) -> Result<Vec<Listing>, String> {
        let now = unix_ms();
        let mut all: Vec<(u64, Listing)> = Vec::new();
        for l in self.exact_entries().await? {
            let s = &l.stored;
            all.push((
                s.at_ms,
                Listing {
                    key: l.key.to_string(),
                    kind: "exact".into(),
                    layer: s.meta.layer.clone(),
                    model: s.meta.model.clone(),
                    client: s.meta.client.clone(),
                    age_secs: s.age_secs().unwrap_or(0),
                    ttl_secs: l.fresh_left_ms() / 1000,
                    hits: s.hits.load(std::sync::atomic::Ordering::Relaxed),
                    size: size(&s.reply),
                    preview: s.meta.preview.clone(),
                },
            ));
        }
        if let Some(semantic) = &self.semantic {
            let at = std::time::Instant::now();
            for v in semantic.entries() {
                let age = at.saturating_duration_since(v.stored);
                all.push((
                    now.saturating_sub(age.as_millis() as u64),
                    Listing {
                        key: v.id.to_string(),
                        kind: "semantic".into(),
                        layer: v.item.meta.layer.clone(),
                        model: v.item.meta.model.clone(),
                        client: v.item.meta.client.clone(),
                        age_secs: age.as_secs(),
                        ttl_secs: v.expires.saturating_duration_since(at).as_secs(),
                        hits: v.hits,
                        size: size(&v.item.reply),
                        preview: crate::telemetry::stats::preview(&v.item.text),
                    },
                ));
            }
        }
        all.retain(|(_, l)| client.as_ref().is_none_or(|c| &l.client == c));
        all.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.key.cmp(&b.1.key)));
        Ok(all.into_iter().take(limit).map(|(_, l)| l).collect())
    }

    async fn why(&self, n: usize) -> Result<Why, String> {
        let recent = self.misses.recent();
        let Some(missed) = recent.get(n.saturating_sub(1)) else {
            return Err(match recent.len() {
                0 => "no request has missed the cache since the daemon started".into(),
                k => format!("only {k} recent misses are kept"),
            });
        };
        // Requests that came before it and whose answers are still cached.
        let mut cached: Vec<&Missed> = Vec::new();
        for earlier in recent.iter().skip(n) {
            let held = match &self.exact {
                Some(exact) => matches!(exact.get(&earlier.key).await, Ok(Some(_))),
                None => true,
            };
            if held {
                cached.push(earlier);
            }
        }
        Ok(misses::explain(missed, &cached))
    }

    /// Removes exact entries `keys`, semantic entries `ids`, and the exact copies of those
    /// semantic entries.
    async fn remove(&self, keys: Vec<CacheKey>, ids: Vec<CacheKey>) -> Result<Forgotten, String> {
        let mut gone = Forgotten::default();
        if let Some(exact) = &self.exact {
            let mut keys = keys;
            if !ids.is_empty() {
                keys.extend(
                    self.exact_entries()
                        .await?
                        .into_iter()
                        .filter(|l| l.stored.meta.source.is_some_and(|s| ids.contains(&s)))
                        .map(|l| l.key),
                );
            }
            keys.sort_unstable();
            keys.dedup();
            gone.exact = exact
                .store()
                .forget(keys)
                .await
                .map_err(|e| e.to_string())?;
        }
        if let Some(semantic) = &self.semantic
            && !ids.is_empty()
        {
            gone.semantic = semantic.forget(Some(ids)).await;
        }
        Ok(gone)
    }

    async fn forget(&self, target: Target) -> Result<Forgotten, String> {
        let (keys, ids) = match target {
            Target::Last => {
                let last = *self.touched.lock().unwrap_or_else(|p| p.into_inner());
                (
                    last.exact.into_iter().collect(),
                    last.semantic.into_iter().collect(),
                )
            }
            Target::Prefix(prefix) => {
                let prefix = prefix.to_ascii_lowercase();
                if prefix.len() < PREFIX_MIN || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!(
                        "a key prefix is at least {PREFIX_MIN} hex characters (see `isartor cache ls`)"
                    ));
                }
                let keys: Vec<CacheKey> = self
                    .exact_entries()
                    .await?
                    .into_iter()
                    .map(|l| l.key)
                    .filter(|k| k.to_string().starts_with(&prefix))
                    .collect();
                let ids: Vec<CacheKey> = self
                    .semantic
                    .iter()
                    .flat_map(|s| s.entries())
                    .map(|v| v.id)
                    .filter(|id| id.to_string().starts_with(&prefix))
                    .collect();
                if keys.len() + ids.len() > 1 {
                    return Err(format!(
                        "{prefix} names {} entries: give more of the key",
                        keys.len() + ids.len()
                    ));
                }
                (keys, ids)
            }
            Target::Prompt(text) => {
                let hash = prompt_hash(&text);
                let keys = self
                    .exact_entries()
                    .await?
                    .into_iter()
                    .filter(|l| l.stored.meta.prompt == hash)
                    .map(|l| l.key)
                    .collect();
                let ids = self
                    .semantic
                    .iter()
                    .flat_map(|s| s.entries())
                    .filter(|v| v.item.text.trim() == text.trim())
                    .map(|v| v.id)
                    .collect();
                (keys, ids)
            }
        };
        self.remove(keys, ids).await
    }

    async fn clear(&self, exact: bool, semantic: bool) -> Result<Forgotten, String> {
        let mut gone = Forgotten::default();
        if let Some(store) = self.exact.as_ref().filter(|_| exact) {
            gone.exact = store.store().clear().await.map_err(|e| e.to_string())?;
        }
        if let Some(layer) = self.semantic.as_ref().filter(|_| semantic) {
            gone.semantic = layer.forget(None).await;
            // The exact copies of semantic hits go with their sources.
            if !exact && let Some(store) = &self.exact {
                let copies = self
                    .exact_entries()
                    .await?
                    .into_iter()
                    .filter(|l| l.stored.meta.source.is_some())
                    .map(|l| l.key)
                    .collect();
                gone.exact = store
                    .store()
                    .forget(copies)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(gone)
    }

    async fn export(&self) -> Result<Vec<String>, String> {
        let header = Line::Header {
            version: EXPORT_VERSION,
            key_version: key::KEY_VERSION.into(),
            embedding_model: self.semantic.as_ref().and_then(|s| s.model_name()),
            exported_at_ms: unix_ms(),
        };
        let mut lines = vec![header];
        for l in self.exact_entries().await? {
            let ttl_secs = l.fresh_left_ms() / 1000;
            if ttl_secs > 0 {
                lines.push(Line::Exact {
                    key: l.key.to_string(),
                    ttl_secs,
                    meta: (*l.stored.meta).clone(),
                    reply: (*l.stored.reply).clone(),
                });
            }
        }
        if let Some(semantic) = &self.semantic {
            let now = std::time::Instant::now();
            for v in semantic.entries() {
                lines.push(Line::Semantic {
                    group: v.item.group.to_string(),
                    text: v.item.text.to_string(),
                    vector: v.vector,
                    ttl_secs: v.expires.saturating_duration_since(now).as_secs(),
                    meta: (*v.item.meta).clone(),
                    reply: (*v.item.reply).clone(),
                });
            }
        }
        Ok(lines
            .iter()
            .filter_map(|l| serde_json::to_string(l).ok())
            .collect())
    }

    async fn import(&self, lines: &[String]) -> Imported {
        let mut done = Imported::default();
        let mut skip = |why: &str| *done.skipped.entry(why.to_string()).or_default() += 1;
        let mut header: Option<(String, Option<String>)> = None;
        let model = self.semantic.as_ref().and_then(|s| s.model_name());
        let mut taken = 0;
        for line in lines.iter().filter(|l| !l.trim().is_empty()) {
            let line = match serde_json::from_str::<Line>(line) {
                Ok(line) => line,
                Err(_) => {
                    skip("unreadable line");
                    continue;
                }
            };
            let keys_match = header.as_ref().is_some_and(|(k, _)| k == key::KEY_VERSION);
            match line {
                Line::Header {
                    version,
                    key_version,
                    embedding_model,
                    ..
                } => {
                    if version != EXPORT_VERSION {
                        skip("export of another version");
                        continue;
                    }
                    header = Some((key_version, embedding_model));
                }
                _ if header.is_none() => skip("no header line before it"),
                _ if !keys_match => skip("another key version"),
                Line::Exact {
                    key,
                    ttl_secs,
                    meta,
                    reply,
                } => match (&self.exact, hex_key(&key)) {
                    (_, _) if ttl_secs == 0 => skip("expired"),
                    (None, _) => skip("exact cache off"),
                    (_, None) => skip("unreadable line"),
                    (Some(exact), Some(key)) => {
                        let ttl = Some(Duration::from_secs(ttl_secs));
                        match exact
                            .store()
                            .put(key, Arc::new(reply), Arc::new(meta), ttl)
                            .await
                        {
                            Ok(()) => taken += 1,
                            Err(_) => skip("store failed"),
                        }
                    }
                },
                Line::Semantic {
                    group,
                    text,
                    vector,
                    ttl_secs,
                    meta,
                    reply,
                } => {
                    let same_model =
                        header.as_ref().and_then(|(_, m)| m.as_ref()) == model.as_ref();
                    match (&self.semantic, hex_key(&group)) {
                        (_, _) if ttl_secs == 0 => skip("expired"),
                        (None, _) => skip("semantic cache off"),
                        (_, None) => skip("unreadable line"),
                        _ if model.is_none() => skip("semantic cache not ready"),
                        _ if !same_model => skip("another embedding model"),
                        (Some(layer), Some(group)) => {
                            let item = Item {
                                group,
                                text: text.into(),
                                reply: Arc::new(reply),
                                meta: Arc::new(meta),
                            };
                            match layer.import(item, vector, Duration::from_secs(ttl_secs)) {
                                true => taken += 1,
                                false => skip("another embedding model"),
                            }
                        }
                    }
                }
            }
        }
        done.taken = taken;
        done
    }
}
