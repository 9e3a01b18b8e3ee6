//! [`Warm`]: a value loaded in the background at start-up (the embedder, the local model),
//! readable without a lock once it is there. A layer that waits for one reports
//! [`LayerStatus::Loading`], then `Ready` or `Failed` (with the reason) — the same words for
//! every layer.

use std::sync::OnceLock;

use serde::Serialize;

/// A layer's state, as `/health`, `isartor status` and the start-up log show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerStatus {
    Ready,
    /// Its model is loading in the background; requests skip it meanwhile.
    Loading,
    /// It cannot serve at all (its model could not be loaded); requests skip it.
    Failed,
    /// It serves, but part of it is down (Redis, a local model server, no provider key).
    Degraded,
    /// Turned off by the configuration.
    Disabled,
    /// Not in this build.
    NotBuilt,
}

impl LayerStatus {
    /// Whether an operator should look (the daemon logs it as a warning; `/health` says
    /// `degraded` overall).
    pub fn needs_attention(self) -> bool {
        matches!(self, LayerStatus::Failed | LayerStatus::Degraded)
    }
}

/// A value that arrives once, from a background load: loading, then ready or failed.
#[derive(Debug)]
pub struct Warm<T>(OnceLock<Result<T, String>>);

impl<T> Default for Warm<T> {
    fn default() -> Warm<T> {
        Warm(OnceLock::new())
    }
}

impl<T> Warm<T> {
    /// Settles the value (the first call wins; later ones are ignored).
    pub fn settle(&self, result: Result<T, String>) {
        let _ = self.0.set(result);
    }

    /// The value, once ready.
    pub fn get(&self) -> Option<&T> {
        self.0.get().and_then(|r| r.as_ref().ok())
    }

    /// The status, and the reason when it failed.
    pub fn status(&self) -> (LayerStatus, Option<&str>) {
        match self.0.get() {
            None => (LayerStatus::Loading, None),
            Some(Ok(_)) => (LayerStatus::Ready, None),
            Some(Err(why)) => (LayerStatus::Failed, Some(why)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loading_then_settled_once() {
        let w: Warm<u32> = Warm::default();
        assert_eq!(w.status(), (LayerStatus::Loading, None));
        assert_eq!(w.get(), None);
        w.settle(Err("no model".into()));
        w.settle(Ok(1));
        assert_eq!(w.status(), (LayerStatus::Failed, Some("no model")));
        assert_eq!(w.get(), None);
        let ok: Warm<u32> = Warm::default();
        ok.settle(Ok(7));
        assert_eq!((ok.status().0, ok.get()), (LayerStatus::Ready, Some(&7)));
        assert!(LayerStatus::Failed.needs_attention() && !LayerStatus::Loading.needs_attention());
    }
}
