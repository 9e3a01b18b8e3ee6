//! What tokens cost. A price table per model (US dollars per million tokens: input, output, and
//! the provider's prompt-cache reads and writes), shipped with the list prices of common models
//! of the six providers, overridden by `[prices."<model>"]` in isartor.toml; a model it does not
//! know is priced at the flat `cost_per_1k_tokens`. Every request event is priced with it when it
//! is published: what an L3 call spent, and what a deflected request saved (what its stored
//! answer would have cost at the request's model).

use std::collections::BTreeMap;

pub use crate::config::Price;

const fn price(input: f64, output: f64, read: f64, write: f64) -> Price {
    Price {
        input,
        output,
        cache_read: Some(read),
        cache_write: Some(write),
    }
}

/// List prices by model-name prefix (the longest matching prefix wins), as the providers
/// published them (see docs/spend.md for the date and the pages). OpenAI and Gemini bill cache
/// writes as input; Ollama runs locally and costs nothing.
const SHIPPED: &[(&str, Price)] = &[
    ("gpt-5-nano", price(0.05, 0.40, 0.005, 0.05)),
    ("gpt-5-mini", price(0.25, 2.00, 0.025, 0.25)),
    ("gpt-5", price(1.25, 10.00, 0.125, 1.25)),
    ("gpt-4.1-nano", price(0.10, 0.40, 0.025, 0.10)),
    ("gpt-4.1-mini", price(0.40, 1.60, 0.10, 0.40)),
    ("gpt-4.1", price(2.00, 8.00, 0.50, 2.00)),
    ("gpt-4o-mini", price(0.15, 0.60, 0.075, 0.15)),
    ("gpt-4o", price(2.50, 10.00, 1.25, 2.50)),
    ("o4-mini", price(1.10, 4.40, 0.275, 1.10)),
    ("o3", price(2.00, 8.00, 0.50, 2.00)),
    ("claude-opus-4", price(15.00, 75.00, 1.50, 18.75)),
    ("claude-sonnet-4", price(3.00, 15.00, 0.30, 3.75)),
    ("claude-3-7-sonnet", price(3.00, 15.00, 0.30, 3.75)),
    ("claude-3-5-sonnet", price(3.00, 15.00, 0.30, 3.75)),
    ("claude-haiku-4", price(1.00, 5.00, 0.10, 1.25)),
    ("claude-3-5-haiku", price(0.80, 4.00, 0.08, 1.00)),
    ("gemini-2.5-pro", price(1.25, 10.00, 0.31, 1.25)),
    ("gemini-2.5-flash-lite", price(0.10, 0.40, 0.025, 0.10)),
    ("gemini-2.5-flash", price(0.30, 2.50, 0.075, 0.30)),
    ("grok-4", price(3.00, 15.00, 0.75, 3.00)),
    ("grok-3-mini", price(0.30, 0.50, 0.075, 0.30)),
    ("grok-3", price(3.00, 15.00, 0.75, 3.00)),
];

/// The shipped table's name equal to `name`, as a `'static` label (an override's name is
/// `None`: it is the user's text).
pub fn known_name(name: &str) -> Option<&'static str> {
    SHIPPED.iter().map(|(m, _)| *m).find(|m| *m == name)
}

/// The tokens of one answer, as an event records them (`input` includes the cached ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

/// The prices in force: overrides, then the shipped table, then the flat price.
#[derive(Debug, Clone)]
pub struct PriceBook {
    /// (lowercased prefix, price), longest prefix first.
    table: Vec<(String, Price)>,
    flat_per_1k: f64,
}

impl Default for PriceBook {
    fn default() -> PriceBook {
        PriceBook::new(&BTreeMap::new(), 0.01)
    }
}

impl PriceBook {
    pub fn new(overrides: &BTreeMap<String, Price>, flat_per_1k: f64) -> PriceBook {
        let mut table: Vec<(String, Price)> = overrides
            .iter()
            .map(|(m, p)| (m.to_lowercase(), *p))
            .collect();
        for (m, p) in SHIPPED {
            if !overrides.keys().any(|o| o.eq_ignore_ascii_case(m)) {
                table.push((m.to_string(), *p));
            }
        }
        // Longest first, so `gpt-4o-mini` is found before `gpt-4o`.
        table.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        PriceBook { table, flat_per_1k }
    }

    /// The table entry for `model` (`models/…` and `provider/…` prefixes are looked past), and
    /// its name; `None` for a model the table does not know.
    pub fn lookup(&self, model: &str) -> Option<(&str, Price)> {
        let bare = crate::config::bare_model(model);
        self.table
            .iter()
            .find(|(prefix, _)| bare.starts_with(prefix.as_str()))
            .map(|(prefix, p)| (prefix.as_str(), *p))
    }

    /// What `tokens` cost at `model`'s price, in dollars.
    pub fn cost(&self, model: &str, tokens: Tokens) -> f64 {
        self.cost_at(self.lookup(model).map(|(_, p)| p), tokens)
    }

    /// What `tokens` cost at `price` (a [`lookup`](Self::lookup)'s), or at the flat rate.
    pub fn cost_at(&self, price: Option<Price>, tokens: Tokens) -> f64 {
        match price {
            Some(p) => {
                let cached = tokens.cache_read + tokens.cache_write;
                let fresh = tokens.input.saturating_sub(cached);
                (fresh as f64 * p.input
                    + tokens.cache_read as f64 * p.cache_read.unwrap_or(p.input)
                    + tokens.cache_write as f64 * p.cache_write.unwrap_or(p.input)
                    + tokens.output as f64 * p.output)
                    / 1e6
            }
            None => (tokens.input + tokens.output) as f64 / 1000.0 * self.flat_per_1k,
        }
    }

    /// What the provider's prompt cache saved on `tokens`: the cache reads at the input price
    /// less what they cost at the cache-read price. Zero at the flat rate (it has no cache
    /// price) and for a price without a cache-read entry. Cache writes cost more than fresh
    /// input at Anthropic; that premium is in what the call spent, not netted here.
    pub fn provider_cache_saving(price: Option<Price>, tokens: Tokens) -> f64 {
        match price {
            Some(p) => {
                let discount = (p.input - p.cache_read.unwrap_or(p.input)).max(0.0);
                tokens.cache_read as f64 * discount / 1e6
            }
            None => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_prefix_prices_and_unknown_models_pay_the_flat_rate() {
        let book = PriceBook::default();
        let t = Tokens {
            input: 1_000_000,
            output: 1_000_000,
            ..Tokens::default()
        };
        assert_eq!(
            book.lookup("gpt-4o-mini-2024-07-18").unwrap().0,
            "gpt-4o-mini"
        );
        assert!((book.cost("gpt-4o-mini", t) - 0.75).abs() < 1e-9);
        assert!((book.cost("gpt-4o", t) - 12.5).abs() < 1e-9);
        assert!((book.cost("models/gemini-2.5-flash", t) - 2.8).abs() < 1e-9);
        assert!((book.cost("anthropic/claude-sonnet-4-5-20250929", t) - 18.0).abs() < 1e-9);
        // Unknown: 2M tokens at $0.01 per 1k.
        assert!((book.cost("llama3.2", t) - 20.0).abs() < 1e-9);
    }

    #[test]
    fn cache_reads_and_writes_have_their_own_prices_and_overrides_win() {
        let book = PriceBook::default();
        // 1M prompt tokens of which 800k read from the cache and 100k written, 0 output.
        let t = Tokens {
            input: 1_000_000,
            output: 0,
            cache_read: 800_000,
            cache_write: 100_000,
        };
        // Sonnet: 100k fresh at $3, 800k read at $0.30, 100k written at $3.75.
        assert!((book.cost("claude-sonnet-4-5", t) - (0.3 + 0.24 + 0.375)).abs() < 1e-9);
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "claude-sonnet-4".to_string(),
            Price {
                input: 1.0,
                output: 1.0,
                cache_read: None,
                cache_write: None,
            },
        );
        let book = PriceBook::new(&overrides, 0.0);
        assert!((book.cost("claude-sonnet-4-5", t) - 1.0).abs() < 1e-9);
        assert_eq!(book.cost("unknown", t), 0.0);
        // 800k read at Sonnet's $3 less $0.30 saved $2.16; the flat rate knows no cache.
        let sonnet = PriceBook::default()
            .lookup("claude-sonnet-4-5")
            .map(|(_, p)| p);
        assert!((PriceBook::provider_cache_saving(sonnet, t) - 2.16).abs() < 1e-9);
        assert_eq!(PriceBook::provider_cache_saving(None, t), 0.0);
    }
}
