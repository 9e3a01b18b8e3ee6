//! What the money settings are: `[prices]` (what tokens cost), `[usage]` (the local usage
//! history) and `[[budgets]]` (spending limits on the cloud, with what to do at the limit).

use serde::{Deserialize, Serialize};

use super::{ConfigError, err};

/// A `[prices."<model>"]` entry: US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Prompt tokens read from the provider's cache (the input price when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<f64>,
    /// Prompt tokens written to the provider's cache (the input price when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
}

/// `[usage]`: the per-request history in `usage.sqlite3` under the data directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsageConfig {
    /// Record every request (no prompt text) for `isartor usage` and budgets across restarts.
    pub enabled: bool,
    /// Days a request's own row is kept; the hourly roll-ups are kept for good.
    pub retention_days: u64,
}

impl Default for UsageConfig {
    fn default() -> UsageConfig {
        UsageConfig {
            enabled: true,
            retention_days: 90,
        }
    }
}

/// How long a budget's limit lasts (UTC calendar days and months).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Day,
    Month,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Month => "month",
        }
    }
}

/// What happens to requests in a budget's scope once it is spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BudgetAction {
    /// Serve as usual; say so in a log line and a metric.
    #[default]
    Warn,
    /// Serve cached and local answers; refuse what would go to the cloud.
    CacheOnly,
    /// Refuse every request in the scope.
    Block,
}

impl BudgetAction {
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetAction::Warn => "warn",
            BudgetAction::CacheOnly => "cache-only",
            BudgetAction::Block => "block",
        }
    }
}

/// One `[[budgets]]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// Names the budget in refusals, log lines and metric labels.
    pub name: String,
    /// `all`, `client:<name>` (the client as `isartor stats` names it) or `model:<prefix>`.
    #[serde(default = "all")]
    pub scope: String,
    pub period: Period,
    /// US dollars of cloud spend per period (at the price table's prices).
    pub limit_usd: f64,
    #[serde(default)]
    pub action: BudgetAction,
}

fn all() -> String {
    "all".into()
}

/// A model name as prices and budget scopes match it: lowercased, past any `provider/` or
/// `models/` prefix.
pub fn bare_model(model: &str) -> String {
    let model = model.to_lowercase();
    match model.rsplit_once('/') {
        Some((_, bare)) => bare.to_string(),
        None => model,
    }
}

/// What a budget's `scope` covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    /// A client, by name (case-insensitive).
    Client(String),
    /// Models whose name starts with this (case-insensitive; `provider/` and `models/` prefixes
    /// of the request's model are looked past, as for prices).
    Model(String),
}

impl Scope {
    /// Whether a request of `client` for `model` is in the scope.
    pub fn covers(&self, client: &str, model: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Client(c) => client.eq_ignore_ascii_case(c),
            Scope::Model(prefix) => bare_model(model).starts_with(prefix.as_str()),
        }
    }
}

impl BudgetConfig {
    /// Checks the budget (the `i`th) and parses its scope.
    pub fn validate(&self, i: usize) -> Result<Scope, ConfigError> {
        let at = format!("budgets[{i}]");
        if self.name.trim().is_empty() || self.name.chars().any(char::is_control) {
            return Err(err(format!(
                "{at}.name = {:?}: a budget needs a name (printable text)",
                self.name
            )));
        }
        if !(self.limit_usd >= 0.0 && self.limit_usd.is_finite()) {
            return Err(err(format!(
                "{at}.limit_usd = {}: must be dollars, zero or more",
                self.limit_usd
            )));
        }
        let scope = self.scope.trim();
        match scope.split_once(':') {
            None if scope == "all" => Ok(Scope::All),
            Some(("client", c)) if !c.trim().is_empty() => Ok(Scope::Client(c.trim().into())),
            Some(("model", m)) if !m.trim().is_empty() => Ok(Scope::Model(m.trim().to_lowercase())),
            _ => Err(err(format!(
                "{at}.scope = {:?}: expected \"all\", \"client:<name>\" or \"model:<prefix>\"",
                self.scope
            ))),
        }
    }
}

/// Checks every budget: valid each, and no two with one name (metrics and refusals name them).
pub fn validate_budgets(budgets: &[BudgetConfig]) -> Result<Vec<Scope>, ConfigError> {
    let mut scopes = Vec::with_capacity(budgets.len());
    for (i, b) in budgets.iter().enumerate() {
        scopes.push(b.validate(i)?);
        if budgets[..i].iter().any(|o| o.name == b.name) {
            return Err(err(format!(
                "budgets[{i}].name = {:?}: another budget has that name",
                b.name
            )));
        }
    }
    Ok(scopes)
}
