//! Reading request bodies within bounds: at most `max_body_bytes` per request, the whole body
//! within `server.body_read_timeout_secs`, and at most `server.max_body_bytes_in_flight` held
//! across every connection of both listeners at once ([`BodyBudget`]). The body is read into one
//! buffer sized from `Content-Length` (no chunk list copied at the end). When a burst of large
//! bodies is over, the allocator is asked to give the freed memory back to the system.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, header};
use http_body_util::BodyExt;

/// Bodies at least this large trim the allocator when the last of them is released.
const TRIM_AFTER: u64 = 8 * 1024 * 1024;

/// Request-body bytes held across all connections.
#[derive(Debug)]
pub struct BodyBudget {
    cap: u64,
    used: AtomicU64,
    /// The largest body held since the budget was last empty.
    peak: AtomicU64,
}

/// Bytes of the budget held by one request; released when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<BodyBudget>,
    held: u64,
}

impl BodyBudget {
    pub fn new(cap: u64) -> Arc<BodyBudget> {
        Arc::new(BodyBudget {
            cap,
            used: AtomicU64::new(0),
            peak: AtomicU64::new(0),
        })
    }

    /// An empty reservation to grow as bytes arrive.
    pub fn start(self: &Arc<Self>) -> Reservation {
        Reservation {
            budget: self.clone(),
            held: 0,
        }
    }

    /// Bytes held right now (for tests and `/health`).
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }
}

impl Reservation {
    /// Holds `total` bytes in all (at least what is held already); false when that would take
    /// the budget over its cap.
    pub fn grow_to(&mut self, total: u64) -> bool {
        if total <= self.held {
            return true;
        }
        let more = total - self.held;
        let budget = &self.budget;
        let taken = budget
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used + more <= budget.cap).then_some(used + more)
            });
        if taken.is_err() {
            return false;
        }
        self.held = total;
        budget.peak.fetch_max(total, Ordering::Relaxed);
        true
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.held == 0 {
            return;
        }
        let before = self.budget.used.fetch_sub(self.held, Ordering::AcqRel);
        if before == self.held && self.budget.peak.swap(0, Ordering::Relaxed) >= TRIM_AFTER {
            give_back_memory();
        }
    }
}

/// Asks glibc to return freed heap pages to the system (large bodies leave whole arenas free
/// that it would otherwise keep). Other allocators and platforms return memory on their own.
fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    tokio::task::spawn_blocking(|| {
        // SAFETY: malloc_trim has no preconditions; it only releases free memory.
        unsafe {
            libc::malloc_trim(0);
        }
    });
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Over `max_body_bytes`.
    TooLarge,
    /// Over what is left of `server.max_body_bytes_in_flight`.
    Busy,
    /// Not all of it arrived within `server.body_read_timeout_secs`.
    TimedOut,
    Broken(String),
}

/// Reads a whole body within the bounds (see the module docs). The reservation holds the
/// body's bytes in the budget until the caller drops it.
pub async fn read_body<B>(
    body: B,
    headers: &HeaderMap,
    max: u64,
    budget: &Arc<BodyBudget>,
    timeout: Duration,
) -> Result<(Bytes, Reservation), BodyError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(BodyError::TooLarge);
    }
    let mut reservation = budget.start();
    if !reservation.grow_to(declared.unwrap_or(0)) {
        return Err(BodyError::Busy);
    }
    let read = async move {
        let mut body = std::pin::pin!(body);
        let mut buf = BytesMut::with_capacity(declared.unwrap_or(0) as usize);
        let mut only: Option<Bytes> = None;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BodyError::Broken(e.to_string()))?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            let total = buf.len() as u64 + only.as_ref().map_or(0, |b| b.len() as u64);
            let total = total + data.len() as u64;
            if total > max {
                return Err(BodyError::TooLarge);
            }
            if !reservation.grow_to(total) {
                return Err(BodyError::Busy);
            }
            // A body that arrives as one frame is kept as it is, without a copy.
            match only.take() {
                None if buf.is_empty() => only = Some(data),
                Some(first) => {
                    buf.extend_from_slice(&first);
                    buf.extend_from_slice(&data);
                }
                None => buf.extend_from_slice(&data),
            }
        }
        Ok((only.unwrap_or_else(|| buf.freeze()), reservation))
    };
    // A small body usually arrived with its head: read it without arming a timer.
    let mut read = std::pin::pin!(read);
    match futures_util::FutureExt::now_or_never(read.as_mut()) {
        Some(done) => done,
        None => tokio::time::timeout(timeout, read)
            .await
            .unwrap_or(Err(BodyError::TimedOut)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_shared_and_released() {
        let budget = BodyBudget::new(100);
        let mut a = budget.start();
        let mut b = budget.start();
        assert!(a.grow_to(60));
        assert!(!b.grow_to(50), "60 + 50 is over 100");
        assert!(b.grow_to(40));
        assert_eq!(budget.used(), 100);
        drop(a);
        assert_eq!(budget.used(), 40);
        assert!(b.grow_to(90));
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn bodies_are_bounded_in_size_budget_and_time() {
        use http_body_util::{Full, StreamBody};
        let budget = BodyBudget::new(1000);
        let none = HeaderMap::new();
        let long = Duration::from_secs(5);
        let (bytes, held) = read_body(Full::new(Bytes::from("abc")), &none, 10, &budget, long)
            .await
            .unwrap();
        assert_eq!(bytes, "abc");
        assert_eq!(budget.used(), 3);
        drop(held);
        let big = Full::new(Bytes::from(vec![b'x'; 11]));
        assert!(matches!(
            read_body(big, &none, 10, &budget, long).await,
            Err(BodyError::TooLarge)
        ));
        let mut declared = HeaderMap::new();
        declared.insert(header::CONTENT_LENGTH, "900".parse().unwrap());
        let small = BodyBudget::new(500);
        let body = Full::new(Bytes::from(vec![b'x'; 900]));
        assert!(matches!(
            read_body(body, &declared, 1000, &small, long).await,
            Err(BodyError::Busy)
        ));
        // A chunked body that never ends.
        let endless = StreamBody::new(futures_util::stream::pending::<
            Result<hyper::body::Frame<Bytes>, std::io::Error>,
        >());
        let short = Duration::from_millis(50);
        assert!(matches!(
            read_body(endless, &none, 10, &budget, short).await,
            Err(BodyError::TimedOut)
        ));
        assert_eq!(budget.used(), 0);
    }
}
