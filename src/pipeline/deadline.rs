//! Whether a local answer can be finished within `layer2.timeout_seconds`, decided before the
//! model starts: the answer's expected length (what answers of its class have run to here,
//! capped by the request's own `max_tokens` and by `layer2.max_answer_tokens`) at the speed the
//! model has measured on this machine. One that cannot goes to L3 at once, instead of leaving
//! the client waiting for the timeout first.

use std::sync::Mutex;
use std::time::Duration;

use crate::exchange::Exchange;
use crate::inference::gguf::Speed;

/// Weight of the newest answer in the moving averages.
const NEWEST: f64 = 0.3;

/// Typical answer lengths, in tokens, per class that is answered locally (template, snippet,
/// simple), learned from the answers this model finished; they start from these.
pub struct Lengths(Mutex<[f64; 3]>);

impl Default for Lengths {
    fn default() -> Lengths {
        // A config file or a `.gitignore` runs to a few hundred tokens; a snippet or a short
        // explanation to one or two hundred.
        Lengths(Mutex::new([400.0, 200.0, 150.0]))
    }
}

/// The class's place in the table (`TEMPLATE`, `SNIPPET`, `SIMPLE`); `None` for others.
fn slot(label: &str) -> Option<usize> {
    ["TEMPLATE", "SNIPPET", "SIMPLE"]
        .iter()
        .position(|l| *l == label)
}

impl Lengths {
    /// The tokens an answer of class `label` is expected to take.
    pub fn expected(&self, label: &str) -> f64 {
        let lengths = self.0.lock().unwrap_or_else(|p| p.into_inner());
        slot(label).map_or(0.0, |i| lengths[i])
    }

    /// Takes in an answer that finished by itself (one cut at a limit says nothing of its
    /// length).
    pub fn learn(&self, label: &str, tokens: u64) {
        if let Some(i) = slot(label) {
            let mut lengths = self.0.lock().unwrap_or_else(|p| p.into_inner());
            lengths[i] += NEWEST * (tokens as f64 - lengths[i]);
        }
    }
}

/// The request's own limit on the answer, if it sets one.
pub fn requested_limit(exchange: &Exchange) -> Option<u64> {
    ["max_tokens", "max_completion_tokens", "max_output_tokens"]
        .iter()
        .find_map(|k| exchange.params.get(*k)?.as_u64())
}

/// `Err` with the expected time when an answer of `tokens` to a prompt of `prompt` tokens cannot
/// finish within `budget` at `speed`; `Ok` when it can, or when the speed is not known yet.
pub fn fits(
    speed: Option<Speed>,
    prompt: u64,
    tokens: f64,
    budget: Duration,
) -> Result<(), Duration> {
    let Some(speed) = speed else {
        return Ok(());
    };
    let needed = speed.time_for(prompt, tokens.ceil() as u64);
    if needed > budget { Err(needed) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_learn_and_the_budget_decides() {
        let lengths = Lengths::default();
        assert_eq!(lengths.expected("TEMPLATE"), 400.0);
        lengths.learn("TEMPLATE", 100);
        assert_eq!(lengths.expected("TEMPLATE"), 310.0);
        assert_eq!(lengths.expected("COMPLEX"), 0.0);
        let speed = Speed {
            prompt: 100.0,
            generation: 10.0,
        };
        let budget = Duration::from_secs(30);
        assert_eq!(fits(None, 50, 400.0, budget), Ok(()), "unknown speed: try");
        assert_eq!(fits(Some(speed), 50, 200.0, budget), Ok(()));
        assert_eq!(
            fits(Some(speed), 50, 400.0, budget),
            Err(Duration::from_millis(40_500))
        );
    }
}
