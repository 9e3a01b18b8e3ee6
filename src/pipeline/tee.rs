//! The L3 tee: forwards upstream bytes to the client as they arrive (unchanged, or translated
//! event by event into the client's protocol by a [`Translator`]), rebuilds the reply on the side
//! ([`Collector`] or the translator), and when the body ends stores a complete reply in the
//! caches *before* it ends the client's body, so a caller that read the whole reply and asks
//! again always hits. It also bounds the silence between chunks and publishes the request's
//! event.

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
    /// The body ended; the reply is being stored before the client sees the end.
    Storing(BoxFuture<'static, ()>),
    Done,
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

    /// The body ended cleanly: publish the event and start storing the reply, if complete.
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
            if let Some(bytes) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(bytes)));
            }
            match &mut this.state {
                State::Done => return Poll::Ready(None),
                State::Storing(fut) => {
                    return match fut.as_mut().poll(cx) {
                        Poll::Ready(()) => {
                            this.state = State::Done;
                            Poll::Ready(None)
                        }
                        Poll::Pending => Poll::Pending,
                    };
                }
                State::Streaming => {}
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
                        None => return Poll::Ready(Some(Ok(bytes))),
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
                Poll::Ready(None) => match this.ended() {
                    Some(store) => this.state = State::Storing(store),
                    None => this.state = State::Done,
                },
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

impl Drop for Tee {
    /// Dropped before the body ended: the client went away mid-stream (499, nginx's convention).
    fn drop(&mut self) {
        self.fail(499, ErrorCode::ClientClosed);
    }
}
