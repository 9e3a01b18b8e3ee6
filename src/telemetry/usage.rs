//! The usage history in `usage.sqlite3` in the data directory (never prompt text): every request
//! is counted in hourly roll-ups per client and model, and every request that was not deflected
//! (a cloud call, an error, a refusal) also keeps a row of its own (who, which model and session,
//! which layer, tokens, dollars). A hit keeps no row: a hit-heavy agent loop would write ~100
//! bytes per hit, and a hit has no session or cost of its own to look up later.
//! A thread of its own writes it, off the request path: the bus hands each event over a bounded
//! queue and never waits; the writer gathers a second's worth into one transaction. A full queue
//! or a locked, full or unreadable database costs rows, never a request (counted in
//! `isartor_usage_rows_lost_total`, logged once a minute). Request rows older than
//! `usage.retention_days` are deleted; the hourly roll-ups stay.
//! `isartor usage` reads the same file, and budgets read their period's spend back from it when
//! the daemon starts. With the Redis backend each replica keeps its own history.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, params};
use serde::{Deserialize, Serialize};

use super::events::RequestEvent;
use super::metrics::Metrics;
use crate::config::Scope;

/// The database's file name in the data directory.
pub const FILE: &str = "usage.sqlite3";
/// Events queued for the writer; beyond this their rows are counted as lost (a second at over
/// 250,000 requests a second).
const QUEUE: usize = 262_144;
/// How long the writer gathers requests before it writes them: one transaction a second at
/// most, so a busy daemon pays a hash-map update per deflected request and an insert per cloud
/// call, and an idle one nothing.
const GATHER: Duration = Duration::from_secs(1);
/// How often a busy writer takes the queued events.
const BITE: Duration = Duration::from_millis(5);
const HOUR_MS: u64 = 3_600_000;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS requests (
    at_ms INTEGER NOT NULL,
    client TEXT NOT NULL,
    model TEXT NOT NULL,
    session TEXT,
    layer TEXT,
    status INTEGER NOT NULL,
    deflected INTEGER NOT NULL,
    tokens_in INTEGER NOT NULL,
    tokens_out INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    cache_write INTEGER NOT NULL,
    tokens_saved INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    saved_usd REAL NOT NULL,
    provider_saved_usd REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_at ON requests (at_ms);
CREATE TABLE IF NOT EXISTS hourly (
    hour_ms INTEGER NOT NULL,
    client TEXT NOT NULL,
    model TEXT NOT NULL,
    requests INTEGER NOT NULL,
    deflected INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    tokens_in INTEGER NOT NULL,
    tokens_out INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    tokens_saved INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    saved_usd REAL NOT NULL,
    provider_saved_usd REAL NOT NULL,
    PRIMARY KEY (hour_ms, client, model)
);
";

/// What one request leaves in the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub at_ms: u64,
    pub client: String,
    pub model: String,
    pub session: Option<String>,
    pub layer: Option<&'static str>,
    pub status: u16,
    pub deflected: bool,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub tokens_saved: u64,
    pub cost_usd: f64,
    pub saved_usd: f64,
    pub provider_saved_usd: f64,
}

/// Longest model name kept (a client names the model: a megabyte-long name must not become a
/// megabyte per row and per hour).
const MODEL_CHARS: usize = 128;

/// `model` cut to [`MODEL_CHARS`] characters.
fn clipped(model: &str) -> &str {
    match model.char_indices().nth(MODEL_CHARS) {
        Some((at, _)) => &model[..at],
        None => model,
    }
}

/// The provider-cache tokens an event counts: a deflected answer carries its original call's,
/// but only a call the provider served read or wrote its cache.
fn provider_cache(e: &RequestEvent) -> (u64, u64) {
    match e.layer == Some(super::Layer::L3) {
        true => (e.tokens_cache_read, e.tokens_cache_write),
        false => (0, 0),
    }
}

impl Row {
    pub fn of(e: &RequestEvent) -> Row {
        let (cache_read, cache_write) = provider_cache(e);
        Row {
            at_ms: e.at_ms,
            client: e.client.clone(),
            model: clipped(&e.model).to_string(),
            session: e.session.clone(),
            layer: e.layer.map(|l| l.as_str()),
            status: e.status,
            deflected: e.deflected,
            tokens_in: e.tokens_in,
            tokens_out: e.tokens_out,
            cache_read,
            cache_write,
            tokens_saved: e.tokens_saved,
            cost_usd: e.cost_usd,
            saved_usd: e.saved_usd,
            provider_saved_usd: e.provider_saved_usd,
        }
    }
}

enum Msg {
    /// The bus's own event: the row is made on the writer's thread, not the request's.
    Event(Arc<RequestEvent>),
    Stop,
}

/// Opens (creating it owner-only, with its tables) the history at `path`.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    if let Some(dir) = path.parent() {
        // The data directory is the daemon's; a failure shows as the open's own error.
        let _ = crate::paths::Paths::ensure_private_dir(dir);
    }
    let fresh = !path.exists();
    let db = Connection::open(path)?;
    if fresh {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    db.busy_timeout(Duration::from_secs(1))?;
    db.execute_batch(SCHEMA)?;
    Ok(db)
}

/// Opens an existing history to read it (`None` when there is none yet).
pub fn open_existing(path: &Path) -> rusqlite::Result<Option<Connection>> {
    if !path.exists() {
        return Ok(None);
    }
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    db.busy_timeout(Duration::from_secs(2))?;
    Ok(Some(db))
}

/// One hour, client and model, summed in memory before it is added to the roll-up.
#[derive(Default)]
struct Sum {
    requests: i64,
    deflected: i64,
    errors: i64,
    tokens_in: i64,
    tokens_out: i64,
    cache_read: i64,
    tokens_saved: i64,
    cost_usd: f64,
    saved_usd: f64,
    provider_saved_usd: f64,
}

fn int(v: u64) -> i64 {
    v.min(i64::MAX as u64) as i64
}

/// Hour → client → model → sums.
type Sums = HashMap<u64, HashMap<String, HashMap<String, Sum>>>;

/// What the writer gathered since it last wrote: the rows of requests that were not deflected,
/// and the hourly sums of every request.
#[derive(Default)]
struct Gathered {
    rows: Vec<Row>,
    sums: Sums,
}

impl Gathered {
    /// Counts a request in its hour's sums (no allocation once its client and model are
    /// known), and keeps its row when it was not deflected.
    fn add(&mut self, e: &RequestEvent) {
        let clients = self.sums.entry(e.at_ms / HOUR_MS * HOUR_MS).or_default();
        if !clients.contains_key(&e.client) {
            clients.insert(e.client.clone(), HashMap::new());
        }
        let models = clients.get_mut(&e.client).expect("inserted above");
        let model = clipped(&e.model);
        if !models.contains_key(model) {
            models.insert(model.to_string(), Sum::default());
        }
        let s = models.get_mut(model).expect("inserted above");
        s.requests += 1;
        s.deflected += i64::from(e.deflected);
        s.errors += i64::from(e.status >= 400);
        s.tokens_in = s.tokens_in.saturating_add(int(e.tokens_in));
        s.tokens_out = s.tokens_out.saturating_add(int(e.tokens_out));
        s.cache_read = s.cache_read.saturating_add(int(provider_cache(e).0));
        s.tokens_saved = s.tokens_saved.saturating_add(int(e.tokens_saved));
        s.cost_usd += e.cost_usd;
        s.saved_usd += e.saved_usd;
        s.provider_saved_usd += e.provider_saved_usd;
        if !e.deflected {
            self.rows.push(Row::of(e));
        }
    }

    fn is_empty(&self) -> bool {
        self.sums.is_empty()
    }

    /// How many requests were gathered.
    fn requests(&self) -> u64 {
        let all = self
            .sums
            .values()
            .flat_map(|c| c.values())
            .flat_map(|m| m.values());
        all.map(|s| s.requests as u64).sum()
    }
}

/// Inserts the rows of requests that were not deflected (inside the writer's transaction).
fn insert_rows(db: &Connection, rows: &[Row]) -> rusqlite::Result<()> {
    let mut one = db.prepare(
        "INSERT INTO requests (at_ms, client, model, session, layer, status, deflected,
            tokens_in, tokens_out, cache_read, cache_write, tokens_saved, cost_usd, saved_usd,
            provider_saved_usd)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?;
    for r in rows {
        one.execute(params![
            int(r.at_ms),
            r.client,
            r.model,
            r.session,
            r.layer,
            r.status,
            r.deflected,
            int(r.tokens_in),
            int(r.tokens_out),
            int(r.cache_read),
            int(r.cache_write),
            int(r.tokens_saved),
            r.cost_usd,
            r.saved_usd,
            r.provider_saved_usd
        ])?;
    }
    Ok(())
}

/// Adds a period's sums to the hourly roll-up (inside the writer's transaction).
fn add_sums(db: &Connection, sums: &Sums) -> rusqlite::Result<()> {
    let mut hour = db.prepare(
        "INSERT INTO hourly (hour_ms, client, model, requests, deflected, errors, tokens_in,
            tokens_out, cache_read, tokens_saved, cost_usd, saved_usd, provider_saved_usd)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (hour_ms, client, model) DO UPDATE SET
            requests = requests + excluded.requests,
            deflected = deflected + excluded.deflected,
            errors = errors + excluded.errors,
            tokens_in = tokens_in + excluded.tokens_in,
            tokens_out = tokens_out + excluded.tokens_out,
            cache_read = cache_read + excluded.cache_read,
            tokens_saved = tokens_saved + excluded.tokens_saved,
            cost_usd = cost_usd + excluded.cost_usd,
            saved_usd = saved_usd + excluded.saved_usd,
            provider_saved_usd = provider_saved_usd + excluded.provider_saved_usd",
    )?;
    for (at, clients) in sums {
        for (client, models) in clients {
            for (model, s) in models {
                hour.execute(params![
                    int(*at),
                    client,
                    model,
                    s.requests,
                    s.deflected,
                    s.errors,
                    s.tokens_in,
                    s.tokens_out,
                    s.cache_read,
                    s.tokens_saved,
                    s.cost_usd,
                    s.saved_usd,
                    s.provider_saved_usd
                ])?;
            }
        }
    }
    Ok(())
}

/// The writer's side of the history: the queue the bus puts rows on, and the thread.
pub struct Recorder {
    tx: SyncSender<Msg>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    metrics: Arc<Metrics>,
}

impl Recorder {
    /// Starts the writer of the history at `path`.
    pub fn start(path: PathBuf, retention_days: u64, metrics: Arc<Metrics>) -> Recorder {
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let m = metrics.clone();
        let thread = std::thread::Builder::new()
            .name("isartor-usage".into())
            .spawn(move || Writer::new(path, retention_days, m).run(rx))
            .map_err(|e| tracing::warn!("usage history: cannot start its writer: {e}"))
            .ok();
        Recorder {
            tx,
            thread: Mutex::new(thread),
            metrics,
        }
    }

    /// Queues an event for its row; never waits.
    pub fn record(&self, e: &Arc<RequestEvent>) {
        match self.tx.try_send(Msg::Event(e.clone())) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.metrics.usage_lost("queue_full", 1),
            Err(TrySendError::Disconnected(_)) => self.metrics.usage_lost("database", 1),
        }
    }

    /// Writes what is queued and stops the writer (blocking; at shutdown).
    pub fn close(&self) {
        let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        if self.tx.send(Msg::Stop).is_ok() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

struct Writer {
    path: PathBuf,
    retention_ms: u64,
    metrics: Arc<Metrics>,
    db: Option<Connection>,
    /// A transaction is open: the period's rows go in as they come, its sums and the commit at
    /// its end.
    open: bool,
    /// Why this period's transaction failed (its requests are counted as lost at its end).
    failed: Option<String>,
    /// When opening was last tried (a missing or broken database is retried once a minute).
    opened_at: Option<Instant>,
    pruned_at: Option<Instant>,
    logged_at: Option<Instant>,
}

impl Writer {
    fn new(path: PathBuf, retention_days: u64, metrics: Arc<Metrics>) -> Writer {
        Writer {
            path,
            retention_ms: retention_days.saturating_mul(24 * HOUR_MS),
            metrics,
            db: None,
            open: false,
            failed: None,
            opened_at: None,
            pruned_at: None,
            logged_at: None,
        }
    }

    fn run(mut self, rx: Receiver<Msg>) {
        self.connect();
        let mut gathered = Gathered::default();
        let mut since = Instant::now();
        loop {
            let mut stop = false;
            if gathered.is_empty() {
                // Idle: sleep until a request arrives.
                match rx.recv() {
                    Ok(Msg::Event(e)) => {
                        gathered.add(&e);
                        since = Instant::now();
                    }
                    Ok(Msg::Stop) | Err(_) => stop = true,
                }
            } else {
                // Busy: take what queued up every few milliseconds, in small bites, so the
                // request threads never wait behind a long one (`close` wakes it early).
                std::thread::park_timeout(BITE);
            }
            for m in rx.try_iter() {
                match m {
                    Msg::Event(e) => gathered.add(&e),
                    Msg::Stop => stop = true,
                }
            }
            self.bite(&mut gathered.rows);
            if stop || since.elapsed() >= GATHER {
                if !gathered.is_empty() {
                    self.commit(&gathered);
                }
                gathered = Gathered::default();
                since = Instant::now();
            }
            if stop {
                return;
            }
        }
    }

    fn connect(&mut self) {
        if self.db.is_some()
            || self
                .opened_at
                .is_some_and(|t| t.elapsed() < Duration::from_secs(60))
        {
            return;
        }
        self.opened_at = Some(Instant::now());
        match open(&self.path) {
            Ok(db) => self.db = Some(db),
            Err(e) => self.complain(&format!("cannot open {}: {e}", self.path.display())),
        }
    }

    /// The connection with the period's transaction open (opening either as needed).
    fn begin(&mut self) -> Result<&Connection, String> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.connect();
        let db = self.db.as_ref().ok_or("the database is not open")?;
        if !self.open {
            db.execute_batch("BEGIN").map_err(|e| e.to_string())?;
            self.open = true;
        }
        Ok(db)
    }

    /// Inserts the rows gathered since the last bite into the open transaction.
    fn bite(&mut self, rows: &mut Vec<Row>) {
        if rows.is_empty() {
            return;
        }
        let result = self
            .begin()
            .and_then(|db| insert_rows(db, rows).map_err(|e| e.to_string()));
        if let Err(e) = result {
            self.failed.get_or_insert(e);
        }
        rows.clear();
    }

    /// Ends the period: adds its sums to the roll-up and commits; on any failure rolls back and
    /// counts its requests as lost.
    fn commit(&mut self, gathered: &Gathered) {
        let result = self.begin().and_then(|db| {
            add_sums(db, &gathered.sums)
                .and_then(|()| db.execute_batch("COMMIT"))
                .map_err(|e| e.to_string())
        });
        match result {
            Ok(()) => self.open = false,
            Err(e) => {
                if self.open
                    && let Some(db) = &self.db
                {
                    let _ = db.execute_batch("ROLLBACK");
                }
                self.open = false;
                let lost = gathered.requests();
                self.metrics.usage_lost("database", lost);
                self.complain(&format!("{lost} requests not written: {e}"));
            }
        }
        self.failed = None;
        if self
            .pruned_at
            .is_none_or(|t| t.elapsed() > Duration::from_secs(3600))
        {
            self.pruned_at = Some(Instant::now());
            let before = super::unix_ms().saturating_sub(self.retention_ms);
            if let Some(db) = &self.db
                && let Err(e) = db.execute("DELETE FROM requests WHERE at_ms < ?1", [before as i64])
            {
                self.complain(&format!("cannot delete old rows: {e}"));
            }
        }
    }

    /// Logs a problem at most once a minute (the metric counts every lost row).
    fn complain(&mut self, what: &str) {
        if self
            .logged_at
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(60))
        {
            self.logged_at = Some(Instant::now());
            tracing::warn!("usage history ({}): {what}", self.path.display());
        }
    }
}

/// What the history says the cloud cost, since `start_ms` (an hour boundary), for a scope.
pub fn spent_since(db: &Connection, scope: &Scope, start_ms: u64) -> rusqlite::Result<f64> {
    let mut q = db.prepare(
        "SELECT client, model, SUM(cost_usd) FROM hourly WHERE hour_ms >= ?1 GROUP BY client, model",
    )?;
    let rows = q.query_map([start_ms as i64], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, f64>(2)?,
        ))
    })?;
    let mut usd = 0.0;
    for row in rows {
        let (client, model, cost) = row?;
        if scope.covers(&client, &model) {
            usd += cost;
        }
    }
    Ok(usd)
}

/// How `isartor usage` groups its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum By {
    Client,
    Model,
    Session,
    Day,
}

/// One line of `isartor usage`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// The client, model, session or day (`all` for the total).
    pub key: String,
    pub requests: u64,
    pub deflected: u64,
    pub deflection_rate: f64,
    pub errors: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub cache_read_tokens: u64,
    pub tokens_saved: u64,
    /// What L3 calls cost.
    pub spent_usd: f64,
    /// What deflected requests would have cost.
    pub saved_usd: f64,
    /// What the provider's prompt cache saved on L3 calls.
    pub provider_cache_saved_usd: f64,
}

/// The history since `since_ms`, grouped by `by` (one `all` row when `None`). Sessions come from
/// the request rows (kept `retention_days`); the rest from the hourly roll-ups, so `since_ms`
/// counts from the start of its hour.
pub fn report(db: &Connection, since_ms: u64, by: Option<By>) -> rusqlite::Result<Vec<Usage>> {
    let hour = since_ms / HOUR_MS * HOUR_MS;
    let (key, table, column) = match by {
        None => ("'all'", "hourly", "hour_ms"),
        Some(By::Client) => ("client", "hourly", "hour_ms"),
        Some(By::Model) => ("model", "hourly", "hour_ms"),
        Some(By::Day) => (
            "strftime('%Y-%m-%d', hour_ms / 1000, 'unixepoch')",
            "hourly",
            "hour_ms",
        ),
        Some(By::Session) => ("COALESCE(session, '-')", "requests", "at_ms"),
    };
    let (count, deflected, errors) = match table {
        "requests" => ("COUNT(*)", "SUM(deflected)", "SUM(status >= 400)"),
        _ => ("SUM(requests)", "SUM(deflected)", "SUM(errors)"),
    };
    let from = if table == "requests" { since_ms } else { hour };
    let sql = format!(
        "SELECT {key} AS k, {count}, {deflected}, {errors}, SUM(tokens_in), SUM(tokens_out),
            SUM(cache_read), SUM(tokens_saved), SUM(cost_usd), SUM(saved_usd),
            SUM(provider_saved_usd)
         FROM {table} WHERE {column} >= ?1 GROUP BY k ORDER BY SUM(cost_usd) DESC, k"
    );
    let mut q = db.prepare(&sql)?;
    let rows = q.query_map([from as i64], |r| {
        let u = |i: usize| {
            r.get::<_, Option<i64>>(i)
                .map(|v| v.unwrap_or(0).max(0) as u64)
        };
        let f = |i: usize| r.get::<_, Option<f64>>(i).map(|v| v.unwrap_or(0.0));
        let requests = u(1)?;
        let deflected = u(2)?;
        Ok(Usage {
            key: r.get(0)?,
            requests,
            deflected,
            deflection_rate: if requests == 0 {
                0.0
            } else {
                deflected as f64 / requests as f64
            },
            errors: u(3)?,
            tokens_in: u(4)?,
            tokens_out: u(5)?,
            cache_read_tokens: u(6)?,
            tokens_saved: u(7)?,
            spent_usd: f(8)?,
            saved_usd: f(9)?,
            provider_cache_saved_usd: f(10)?,
        })
    })?;
    // An empty history still has its total row (of zeros) when not grouped.
    let out: Vec<Usage> = rows.collect::<rusqlite::Result<_>>()?;
    Ok(out
        .into_iter()
        .filter(|u| u.requests > 0 || by.is_none())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::Layer;

    /// A request's event as the bus publishes it, at `at_ms`, costing or saving `usd`.
    fn event(at_ms: u64, client: &str, model: &str, usd: f64, deflected: bool) -> RequestEvent {
        let bus = super::super::Bus::default();
        let mut events = bus.subscribe();
        let mut tracker = bus.track(crate::exchange::Surface::Gateway, client);
        tracker.describe(crate::exchange::Format::OpenAiChat, model, "hello");
        tracker.session(&format!("s-{client}"), Vec::new(), None);
        let layer = if deflected { Layer::L1a } else { Layer::L3 };
        tracker.finish(Some(layer), 200, None);
        let mut e = (*events.try_recv().unwrap()).clone();
        e.at_ms = at_ms;
        (e.tokens_in, e.tokens_out, e.tokens_cache_read) = (100, 10, 50);
        e.tokens_saved = if deflected { 110 } else { 0 };
        (e.cost_usd, e.saved_usd) = if deflected { (0.0, usd) } else { (usd, 0.0) };
        e.provider_saved_usd = 0.001;
        e
    }

    #[test]
    fn rows_roll_up_per_hour_and_report_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = open(&dir.path().join(FILE)).unwrap();
        let t = 1_796_040_000_000; // 2026-11-30T12:00Z
        let mut gathered = Gathered::default();
        for e in [
            event(t, "claude-code", "claude-sonnet-4-5", 0.5, false),
            event(t + 60_000, "claude-code", "claude-sonnet-4-5", 0.5, true),
            event(t + HOUR_MS, "codex", "gpt-5", 0.25, false),
            event(t - 30 * 24 * HOUR_MS, "codex", "gpt-5", 1.0, false),
        ] {
            gathered.add(&e);
        }
        let tx = db.transaction().unwrap();
        insert_rows(&tx, &gathered.rows).unwrap();
        add_sums(&tx, &gathered.sums).unwrap();
        tx.commit().unwrap();
        // The deflected request is in the roll-up only.
        let rows: i64 = db
            .query_row("SELECT COUNT(*) FROM requests", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 3);
        let hours: i64 = db
            .query_row("SELECT COUNT(*) FROM hourly", [], |r| r.get(0))
            .unwrap();
        assert_eq!(hours, 3);
        let all = report(&db, t - HOUR_MS, None).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!((all[0].requests, all[0].deflected), (3, 1));
        assert!((all[0].spent_usd - 0.75).abs() < 1e-12 && (all[0].saved_usd - 0.5).abs() < 1e-12);
        let by_client = report(&db, 0, Some(By::Client)).unwrap();
        assert_eq!(by_client[0].key, "codex");
        assert!((by_client[0].spent_usd - 1.25).abs() < 1e-12);
        let by_day = report(&db, 0, Some(By::Day)).unwrap();
        let days: Vec<&str> = by_day.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(days, ["2026-10-31", "2026-11-30"]);
        let sessions = report(&db, t, Some(By::Session)).unwrap();
        assert_eq!(sessions.len(), 2);
        let spent = spent_since(&db, &Scope::Model("gpt-5".into()), t).unwrap();
        assert!((spent - 0.25).abs() < 1e-12);
    }

    #[test]
    fn a_long_model_name_is_kept_short() {
        let mut gathered = Gathered::default();
        let long = "m".repeat(100_000);
        gathered.add(&event(1_796_040_000_000, "curl", &long, 0.1, false));
        assert_eq!(gathered.rows[0].model.len(), MODEL_CHARS);
        let models = gathered.sums.values().next().unwrap()["curl"].keys();
        assert!(models.map(String::len).all(|n| n == MODEL_CHARS));
        assert_eq!(
            clipped("é".repeat(200).as_str()).chars().count(),
            MODEL_CHARS
        );
    }

    #[test]
    fn a_database_that_cannot_open_loses_rows_not_requests() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be: every open fails.
        let path = dir.path().join(FILE);
        std::fs::create_dir(&path).unwrap();
        let metrics = Arc::new(Metrics::new());
        let recorder = Recorder::start(path, 90, metrics.clone());
        let bus = super::super::Bus::default();
        let mut events = bus.subscribe();
        bus.track(crate::exchange::Surface::Gateway, "curl")
            .finish(None, 400, None);
        recorder.record(&events.try_recv().expect("the event"));
        recorder.close();
        assert!(
            metrics
                .render()
                .contains("isartor_usage_rows_lost_total{reason=\"database\"} 1")
        );
    }
}
