//! Budgets: limits on what the cloud may cost per UTC day or month, for all traffic, one client
//! or a model family. Every priced L3 event counts against the budgets whose scope covers it;
//! before a request runs, [`Budgets::standing`] says what is left and whether the request is
//! refused (`block`: everything in scope; `cache-only`: what would go to the cloud). Spend so far
//! in the current period is read back from the usage history when the daemon starts, so a
//! restart does not reset a budget.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime, Time};

use crate::display::rfc3339;

use crate::config::{BudgetAction, BudgetConfig, Period, Scope};

/// A budget's current period: when it began and when the next begins (Unix ms, UTC).
pub fn period_bounds(period: Period, now_ms: u64) -> (u64, u64) {
    let now = OffsetDateTime::from_unix_timestamp((now_ms / 1000) as i64)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let start: Date = match period {
        Period::Day => now.date(),
        Period::Month => now.date().replace_day(1).unwrap_or(now.date()),
    };
    let next: Date = match period {
        Period::Day => start.next_day().unwrap_or(start),
        Period::Month => {
            let (year, month) = match start.month() {
                Month::December => (start.year() + 1, Month::January),
                m => (start.year(), m.next()),
            };
            Date::from_calendar_date(year, month, 1).unwrap_or(start)
        }
    };
    let ms = |d: Date| (d.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp() as u64) * 1000;
    (ms(start), ms(next))
}

/// A request refused by a spent budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub budget: String,
    /// Names the budget, what it allows, what was spent and when it resets.
    pub message: String,
    /// Seconds until the budget's next period (`Retry-After`).
    pub retry_after_secs: u64,
}

/// Where a request stands against the budgets that cover it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Standing {
    /// Dollars left in the tightest covering budget (`X-Isartor-Budget-Remaining`).
    pub remaining: Option<f64>,
    /// A spent `block` budget: refuse the request.
    pub blocked: Option<Refusal>,
    /// A spent `cache-only` budget: refuse the request if it would go to the cloud.
    pub cloud_refused: Option<Refusal>,
}

/// One budget as `isartor stats` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetView {
    pub name: String,
    pub scope: String,
    pub period: Period,
    pub action: BudgetAction,
    pub limit_usd: f64,
    pub spent_usd: f64,
    /// Unix ms (UTC) when the period resets.
    pub resets_at_ms: u64,
}

struct Spend {
    start_ms: u64,
    next_ms: u64,
    usd: f64,
    /// The "budget spent" line was logged this period.
    told: bool,
}

struct Budget {
    config: BudgetConfig,
    scope: Scope,
    spend: Mutex<Spend>,
}

impl Budget {
    /// The spend of the period `now_ms` falls in (a new period starts at zero).
    fn current(&self, now_ms: u64) -> std::sync::MutexGuard<'_, Spend> {
        let mut s = self.spend.lock().unwrap_or_else(|p| p.into_inner());
        if now_ms >= s.next_ms || now_ms < s.start_ms {
            let (start_ms, next_ms) = period_bounds(self.config.period, now_ms);
            *s = Spend {
                start_ms,
                next_ms,
                usd: 0.0,
                told: false,
            };
        }
        s
    }

    fn refusal(&self, spent: f64, next_ms: u64, now_ms: u64) -> Refusal {
        let period = self.config.period.as_str();
        Refusal {
            budget: self.config.name.clone(),
            message: format!(
                "Isartor budget {:?} ({}, ${:.2} a {period}, action {}) is spent: ${spent:.4} so \
                 far; it resets at {}",
                self.config.name,
                self.config.scope,
                self.config.limit_usd,
                self.config.action.as_str(),
                rfc3339(next_ms)
            ),
            retry_after_secs: next_ms.saturating_sub(now_ms).div_ceil(1000),
        }
    }
}

/// Every configured budget and its spend in the current period.
#[derive(Default)]
pub struct Budgets {
    items: Vec<Budget>,
}

impl Budgets {
    /// The budgets of `configs` (validated, with their parsed scopes), each starting from what
    /// `spent_since(scope, period start)` says its current period has already spent.
    pub fn new(
        configs: &[BudgetConfig],
        scopes: Vec<Scope>,
        now_ms: u64,
        spent_since: impl Fn(&Scope, u64) -> f64,
    ) -> Budgets {
        let items = configs
            .iter()
            .zip(scopes)
            .map(|(config, scope)| {
                let (start_ms, next_ms) = period_bounds(config.period, now_ms);
                let usd = spent_since(&scope, start_ms);
                Budget {
                    config: config.clone(),
                    scope,
                    spend: Mutex::new(Spend {
                        start_ms,
                        next_ms,
                        usd,
                        told: false,
                    }),
                }
            })
            .collect();
        Budgets { items }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Counts an L3 call's cost against every budget that covers it, telling `counted` each
    /// budget's name, spend and limit; logs once per period when a budget is spent.
    pub fn spend(
        &self,
        client: &str,
        model: &str,
        usd: f64,
        now_ms: u64,
        mut counted: impl FnMut(&str, f64, f64),
    ) {
        if usd <= 0.0 {
            return;
        }
        for b in self.items.iter().filter(|b| b.scope.covers(client, model)) {
            let mut s = b.current(now_ms);
            s.usd += usd;
            counted(&b.config.name, s.usd, b.config.limit_usd);
            if s.usd >= b.config.limit_usd && !s.told {
                s.told = true;
                let what = match b.config.action {
                    BudgetAction::Warn => "requests are still served",
                    BudgetAction::CacheOnly => "only cached and local answers are served",
                    BudgetAction::Block => "requests in its scope are refused",
                };
                tracing::warn!(
                    "budget {:?} ({}) is spent: ${:.4} of ${:.2}; {what} until {}",
                    b.config.name,
                    b.config.scope,
                    s.usd,
                    b.config.limit_usd,
                    rfc3339(s.next_ms)
                );
            }
        }
    }

    /// Where a request of `client` for `model` stands now.
    pub fn standing(&self, client: &str, model: &str, now_ms: u64) -> Standing {
        let mut out = Standing::default();
        for b in self.items.iter().filter(|b| b.scope.covers(client, model)) {
            let (usd, next_ms) = {
                let s = b.current(now_ms);
                (s.usd, s.next_ms)
            };
            let left = (b.config.limit_usd - usd).max(0.0);
            out.remaining = Some(out.remaining.map_or(left, |r: f64| r.min(left)));
            if usd < b.config.limit_usd {
                continue;
            }
            let slot = match b.config.action {
                BudgetAction::Warn => continue,
                BudgetAction::CacheOnly => &mut out.cloud_refused,
                BudgetAction::Block => &mut out.blocked,
            };
            if slot.is_none() {
                *slot = Some(b.refusal(usd, next_ms, now_ms));
            }
        }
        out
    }

    /// Every budget now.
    pub fn views(&self, now_ms: u64) -> Vec<BudgetView> {
        self.items
            .iter()
            .map(|b| {
                let s = b.current(now_ms);
                BudgetView {
                    name: b.config.name.clone(),
                    scope: b.config.scope.clone(),
                    period: b.config.period,
                    action: b.config.action,
                    limit_usd: b.config.limit_usd,
                    spent_usd: s.usd,
                    resets_at_ms: s.next_ms,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::validate_budgets;

    fn budget(
        name: &str,
        scope: &str,
        period: Period,
        limit: f64,
        action: BudgetAction,
    ) -> BudgetConfig {
        BudgetConfig {
            name: name.into(),
            scope: scope.into(),
            period,
            limit_usd: limit,
            action,
        }
    }

    /// 2026-11-30T12:00:00Z.
    const NOON: u64 = 1_796_040_000_000;

    #[test]
    fn periods_are_utc_days_and_months() {
        let (start, next) = period_bounds(Period::Day, NOON);
        assert_eq!(rfc3339(start), "2026-11-30T00:00:00Z");
        assert_eq!(rfc3339(next), "2026-12-01T00:00:00Z");
        let (start, next) = period_bounds(Period::Month, NOON);
        assert_eq!(rfc3339(start), "2026-11-01T00:00:00Z");
        assert_eq!(rfc3339(next), "2026-12-01T00:00:00Z");
        // December rolls into the next year.
        let (_, next) = period_bounds(Period::Month, next + 3_600_000);
        assert_eq!(rfc3339(next), "2027-01-01T00:00:00Z");
    }

    #[test]
    fn spend_counts_against_covering_budgets_and_actions_refuse_at_the_limit() {
        let configs = vec![
            budget("all", "all", Period::Month, 10.0, BudgetAction::Warn),
            budget(
                "claude",
                "client:claude-code",
                Period::Day,
                1.0,
                BudgetAction::CacheOnly,
            ),
            budget(
                "opus",
                "model:claude-opus",
                Period::Day,
                0.5,
                BudgetAction::Block,
            ),
        ];
        let scopes = validate_budgets(&configs).unwrap();
        // The month already spent $2 before this start (read back from the history).
        let budgets = Budgets::new(&configs, scopes, NOON, |scope, _| match scope {
            Scope::All => 2.0,
            _ => 0.0,
        });
        let mut told = Vec::new();
        let s = budgets.standing("codex", "gpt-5", NOON);
        assert_eq!(s.remaining, Some(8.0));
        assert!(s.blocked.is_none() && s.cloud_refused.is_none());

        budgets.spend("Claude-Code", "claude-sonnet-4-5", 1.25, NOON, |n, s, l| {
            told.push((n.to_string(), s, l))
        });
        // The monthly budget and the client's both counted it.
        assert_eq!(
            told,
            [
                ("all".to_string(), 3.25, 10.0),
                ("claude".to_string(), 1.25, 1.0)
            ]
        );
        let s = budgets.standing("claude-code", "claude-sonnet-4-5", NOON + 1000);
        assert_eq!(s.remaining, Some(0.0));
        let refusal = s.cloud_refused.expect("cache-only once spent");
        assert!(
            refusal.message.contains("\"claude\"")
                && refusal.message.contains("2026-12-01T00:00:00Z")
        );
        assert_eq!(refusal.retry_after_secs, 12 * 3600 - 1);
        assert!(s.blocked.is_none());
        // Other clients are not in its scope; the monthly budget counted the spend.
        let s = budgets.standing("codex", "gpt-5", NOON);
        assert_eq!(s.remaining, Some(10.0 - 3.25));

        budgets.spend(
            "codex",
            "anthropic/claude-opus-4-1",
            0.5,
            NOON,
            |_, _, _| {},
        );
        assert!(
            budgets
                .standing("codex", "claude-opus-4-1", NOON)
                .blocked
                .is_some()
        );
        // A new day starts from zero.
        let tomorrow = NOON + 24 * 3_600_000;
        let s = budgets.standing("claude-code", "claude-opus-4-1", tomorrow);
        assert!(s.blocked.is_none() && s.cloud_refused.is_none());
    }

    #[test]
    fn bad_budgets_are_named_in_the_error() {
        let bad = |b: BudgetConfig| validate_budgets(&[b]).unwrap_err().0;
        let ok = budget("x", "all", Period::Day, 1.0, BudgetAction::Warn);
        assert!(
            bad(BudgetConfig {
                scope: "team:a".into(),
                ..ok.clone()
            })
            .contains("budgets[0].scope")
        );
        assert!(
            bad(BudgetConfig {
                limit_usd: -1.0,
                ..ok.clone()
            })
            .contains("limit_usd")
        );
        assert!(
            bad(BudgetConfig {
                name: " ".into(),
                ..ok.clone()
            })
            .contains("name")
        );
        let twice = validate_budgets(&[ok.clone(), ok]).unwrap_err().0;
        assert!(twice.contains("budgets[1].name"));
    }
}
