//! The L3 tee: forwards upstream bytes to the client as they arrive (unchanged, or translated
//! event by event into the client's protocol by a [`Translator`]), rebuilds the reply on the side
//! ([`Collector`] or the translator), and stores a complete reply in the caches *before* the
//! client sees its end, so a caller that read the whole reply and asks again always hits. The
//! end is the format's final event (`[DONE]`, `message_stop`, `response.completed`) where it
//! has one, since clients stop reading there and the provider may close its body later; it is
//! the end of the body otherwise. It also bounds the silence between chunks and publishes the
//! request's event.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, Stream};
use http::StatusCode;
use tokio::time::Sleep;

use super::Remember;
use crate::exchange::collect::Collector;
use crate::exchange::stream::Translator;
use crate::telemetry::{ErrorCode, Layer, LayerOutcome, Tracker};

enum State {
    Streaming,
    /// The reply is whole; it is being stored before the client sees its end (held in
    /// `pending`). Then the stream goes on as [`After`] says.
    Storing(BoxFuture<'static, ()>, After),
    /// The reply was settled at its final event; what the provider sends until its body ends is
    /// passed on (unchanged) or dropped (translated: the client's stream is already closed).
    Trailing,
    Done,
}

/// Where a stream goes once its reply is stored.
#[derive(Clone, Copy)]
enum After {
    /// The provider's body is still open after its final event.
    Trailing,
    /// The provider's body ended.
    Done,
}

impl From<After> for State {
    fn from(after: After) -> State {
        match after {
            After::Trailing => State::Trailing,
            After::Done => State::Done,
        }
    }
}

pub struct Tee {
    inner: BoxStream<'static, reqwest::Result<Bytes>>,
    collector: Option<Collector>,
    translator: Option<Translator>,
    /// Translated bytes waiting to be sent.
    pending: VecDeque<Bytes>,
    remember: Option<Remember>,
    tracker: Option<Tracker>,
    status: StatusCode,
    idle: Duration,
    silence: Pin<Box<Sleep>>,
    started: Instant,
    prompt_tokens: u64,
    state: State,
}

impl Tee {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        inner: BoxStream<'static, reqwest::Result<Bytes>>,
        collector: Option<Collector>,
        remember: Remember,
        tracker: Tracker,
        status: StatusCode,
        idle: Duration,
        started: Instant,
        prompt_tokens: u64,
    ) -> Tee {
        Tee {
            inner,
            collector,
            translator: None,
            pending: VecDeque::new(),
            remember: Some(remember),
            tracker: Some(tracker),
            status,
            idle,
            silence: Box::pin(tokio::time::sleep(idle)),
            started,
            prompt_tokens,
            state: State::Streaming,
        }
    }

    /// Sends the client the translator's output instead of the upstream bytes (the translator
    /// also rebuilds the reply, so no collector is needed).
    pub fn translating(mut self, translator: Translator) -> Tee {
        self.translator = Some(translator);
        self.collector = None;
        self
    }

    fn fail(&mut self, status: u16, code: ErrorCode) {
        if let Some(mut t) = self.tracker.take() {
            t.layer(Layer::L3, self.started.elapsed(), LayerOutcome::Failed);
            t.finish(Some(Layer::L3), status, Some(code));
        }
        self.state = State::Done;
    }

    /// Whether the final event of the upstream format has arrived (see [`Reader::settled`]).
    ///
    /// [`Reader::settled`]: crate::exchange::stream::Reader::settled
    fn settled(&self) -> bool {
        match (&self.translator, &self.collector) {
            (Some(t), _) => t.settled(),
            (None, Some(c)) => c.settled(),
            (None, None) => false,
        }
    }

    /// The reply is over (its final event arrived, or the body ended): publish the event and
    /// store the reply, if complete, before the client sees its end.
    fn settle(&mut self, after: After) {
        self.state = match self.ended() {
            Some(store) => State::Storing(store, after),
            None => after.into(),
        };
    }

    /// Publishes the event and returns the store of the reply, if complete.
    fn ended(&mut self) -> Option<BoxFuture<'static, ()>> {
        let reply = match (&mut self.translator, self.collector.take()) {
            (Some(t), _) => {
                let mut tail = Vec::new();
                let reply = t.finish(&mut tail);
                self.pending.extend(tail);
                reply
            }
            (None, Some(c)) => c.finish(),
            (None, None) => None,
        }
        .map(|r| r.with_usage_estimate(self.prompt_tokens));
        let mut tracker = self.tracker.take()?;
        if reply.is_none() && self.translator.is_some() {
            // The client got its format's error event instead of a normal end.
            tracker.layer(Layer::L3, self.started.elapsed(), LayerOutcome::Failed);
            tracker.finish(
                Some(Layer::L3),
                502,
                Some(ErrorCode::UpstreamStreamIncomplete),
            );
            return None;
        }
        tracker.layer(Layer::L3, self.started.elapsed(), LayerOutcome::Answered);
        let store = reply.map(|reply| {
            tracker.usage(Layer::L3, reply.usage);
            let remember = self.remember.take().unwrap_or_default();
            remember.store(std::sync::Arc::new(reply))
        });
        tracker.finish(Some(Layer::L3), self.status.as_u16(), None);
        store
    }
}

impl Stream for Tee {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            // The client sees nothing more until the reply is stored.
            if let State::Storing(fut, after) = &mut this.state {
                match fut.as_mut().poll(cx) {
                    Poll::Ready(()) => this.state = (*after).into(),
                    Poll::Pending => return Poll::Pending,
                }
            }
            if let Some(bytes) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(bytes)));
            }
            match this.state {
                State::Done => return Poll::Ready(None),
                State::Trailing => return this.poll_trailing(cx),
                State::Streaming | State::Storing(..) => {}
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(bytes))) => {
                    if let Some(c) = &mut this.collector {
                        c.feed(&bytes);
                    }
                    let deadline = tokio::time::Instant::now() + this.idle;
                    this.silence.as_mut().reset(deadline);
                    match &mut this.translator {
                        Some(t) => {
                            let mut out = Vec::new();
                            t.feed(&bytes, &mut out);
                            this.pending.extend(out);
                        }
                        None => this.pending.push_back(bytes),
                    }
                    if this.settled() {
                        this.settle(After::Trailing);
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.fail(502, ErrorCode::UpstreamStreamBroken);
                    // A translated stream ends with the client format's own error event; a
                    // passed-through one breaks off as the provider's did.
                    if let Some(t) = &mut this.translator {
                        let mut out = Vec::new();
                        t.abort("the provider's stream broke off", &mut out);
                        this.pending.extend(out);
                        continue;
                    }
                    return Poll::Ready(Some(Err(std::io::Error::other(e))));
                }
                Poll::Ready(None) => this.settle(After::Done),
                Poll::Pending => {
                    if this.silence.as_mut().poll(cx).is_ready() {
                        let secs = this.idle.as_secs();
                        this.fail(502, ErrorCode::UpstreamTimeout);
                        if let Some(t) = &mut this.translator {
                            let mut out = Vec::new();
                            let why =
                                format!("the provider sent nothing for {secs} s (l3_timeout_secs)");
                            t.abort(&why, &mut out);
                            this.pending.extend(out);
                            continue;
                        }
                        return Poll::Ready(Some(Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!("the provider sent nothing for {secs} s (l3_timeout_secs)"),
                        ))));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Tee {
    /// After the final event: the provider's remaining bytes until its body ends, a break or a
    /// silence (either ends the client's body cleanly: the reply is already whole and stored).
    fn poll_trailing(&mut self, cx: &mut Context<'_>) -> Poll<Option<std::io::Result<Bytes>>> {
        loop {
            match self.inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(bytes))) => {
                    let deadline = tokio::time::Instant::now() + self.idle;
                    self.silence.as_mut().reset(deadline);
                    if self.translator.is_none() {
                        return Poll::Ready(Some(Ok(bytes)));
                    }
                }
                Poll::Ready(Some(Err(_)) | None) => break,
                Poll::Pending if self.silence.as_mut().poll(cx).is_ready() => break,
                Poll::Pending => return Poll::Pending,
            }
        }
        self.state = State::Done;
        Poll::Ready(None)
    }
}

impl Drop for Tee {
    /// Dropped before the reply was over: the client went away mid-stream (499, nginx's
    /// convention). A store under way still finishes: the reply is whole.
    fn drop(&mut self) {
        if let State::Storing(store, _) = std::mem::replace(&mut self.state, State::Done)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(store);
        }
        self.fail(499, ErrorCode::ClientClosed);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures_util::{FutureExt, StreamExt, stream};
    use tokio::sync::Notify;

    use super::*;
    use crate::exchange::key::CacheKey;
    use crate::exchange::{Format, Surface};
    use crate::store::memory::MemoryStore;
    use crate::store::{Listed, Meta, ReplyStore, StoreError, Stored};
    use crate::telemetry::Bus;

    /// A memory store whose `put` waits until the test opens the gate, and says when it is done.
    struct Gated {
        inner: MemoryStore,
        gate: Notify,
        stored: Notify,
    }

    impl ReplyStore for Gated {
        fn get<'a>(
            &'a self,
            key: &'a CacheKey,
        ) -> BoxFuture<'a, Result<Option<Stored>, StoreError>> {
            self.inner.get(key)
        }
        fn put(
            &self,
            key: CacheKey,
            reply: Arc<crate::exchange::Reply>,
            meta: Arc<Meta>,
            ttl: Option<Duration>,
        ) -> BoxFuture<'_, Result<(), StoreError>> {
            async move {
                self.gate.notified().await;
                let done = self.inner.put(key, reply, meta, ttl).await;
                self.stored.notify_one();
                done
            }
            .boxed()
        }
        fn list(&self) -> BoxFuture<'_, Result<Vec<Listed>, StoreError>> {
            self.inner.list()
        }
        fn forget(&self, keys: Vec<CacheKey>) -> BoxFuture<'_, Result<u64, StoreError>> {
            self.inner.forget(keys)
        }
        fn clear(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
            self.inner.clear()
        }
        fn len(&self) -> u64 {
            self.inner.len()
        }
        fn backend(&self) -> &'static str {
            "gated"
        }
    }

    fn chunk(delta: &str, finish: &str) -> reqwest::Result<Bytes> {
        Ok(Bytes::from(format!(
            "data: {{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\
             \"choices\":[{{\"index\":0,\"delta\":{delta},\"finish_reason\":{finish}}}]}}\n\n"
        )))
    }

    /// The final event waits for the store, and a client that hangs up meanwhile (the tee is
    /// dropped while storing) does not cancel the store.
    #[tokio::test]
    async fn a_store_under_way_outlives_a_client_that_hangs_up() {
        let store = Arc::new(Gated {
            inner: MemoryStore::new(Duration::from_secs(60), 10),
            gate: Notify::new(),
            stored: Notify::new(),
        });
        let key = CacheKey([7; 32]);
        let remember = Remember {
            exact: Some((store.clone() as Arc<dyn ReplyStore>, key)),
            ..Remember::default()
        };
        // The provider's body stays open after `[DONE]`.
        let body = stream::iter([
            chunk(r#"{"role":"assistant","content":"hi"}"#, "null"),
            chunk("{}", r#""stop""#),
            Ok(Bytes::from_static(b"data: [DONE]\n\n")),
        ])
        .chain(stream::pending());
        let mut tee = Tee::new(
            body.boxed(),
            Some(Collector::new(Format::OpenAiChat, "text/event-stream")),
            remember,
            Bus::new(4).track(Surface::Gateway, "test"),
            StatusCode::OK,
            Duration::from_secs(60),
            Instant::now(),
            1,
        );
        let mut got = String::new();
        while let Some(Some(Ok(bytes))) = tee.next().now_or_never() {
            got.push_str(std::str::from_utf8(&bytes).unwrap());
        }
        assert!(got.contains("\"stop\""), "{got}");
        assert!(
            !got.contains("[DONE]"),
            "the final event waits for the store: {got}"
        );
        drop(tee);
        store.gate.notify_one();
        tokio::time::timeout(Duration::from_secs(10), store.stored.notified())
            .await
            .expect("the store finished after the tee was dropped");
        assert!(store.inner.get(&key).await.unwrap().is_some());
    }
}
