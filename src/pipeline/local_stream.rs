//! A streamed L2 answer: the embedded model's text, piece by piece, encoded into the client's
//! own SSE events as it is generated. When the model is done the complete reply is stored in
//! the caches (before the client's stream ends, as for L3), if it finished by itself and passes
//! the checks of a whole answer, and the request's event is published.

use std::collections::VecDeque;

use bytes::Bytes;
use futures_util::stream;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::{Outcome, Remember};
use crate::exchange::stream::{Delta, Encoder, ReplyBuilder, StreamHead};
use crate::exchange::stream_encoder;
use crate::exchange::{Exchange, FinishReason, Usage, new_id};
use crate::inference::gguf::{self, Streaming};
use crate::telemetry::{ErrorCode, Layer, Tracker};

struct State {
    rest: Option<Streaming>,
    encoder: Box<dyn Encoder>,
    builder: ReplyBuilder,
    pending: VecDeque<Bytes>,
    remember: Option<Remember>,
    tracker: Option<Tracker>,
    prompt_tokens: u64,
    /// The request's last user turn, for the checks a whole answer must pass to be cached.
    request: String,
}

impl State {
    fn push(&mut self, d: Delta) {
        let mut out = Vec::new();
        self.builder.delta(&d);
        self.encoder.delta(&d, &mut out);
        self.pending.extend(out);
    }

    /// The model is done: the last of the text, usage, finish; the reply stored; the event out.
    async fn end(&mut self, done: gguf::Done) {
        match gguf::finished(done).await {
            Ok(answer) => {
                // A piece held back mid-character is in the whole text.
                let streamed = self.builder.reply().text();
                if let Some(tail) = answer.text.strip_prefix(streamed.as_str())
                    && !tail.is_empty()
                {
                    self.push(Delta::Text {
                        choice: 0,
                        text: tail.to_string(),
                    });
                }
                let usage = Usage {
                    input_tokens: answer.input_tokens,
                    output_tokens: answer.output_tokens,
                    ..Usage::default()
                };
                self.push(Delta::Usage(usage));
                let finish = match answer.cut {
                    Some(_) => FinishReason::Length,
                    None => FinishReason::Stop,
                };
                self.push(Delta::Finish {
                    choice: 0,
                    reason: finish.clone(),
                });
                let reply = self.builder.reply().with_usage_estimate(self.prompt_tokens);
                let mut out = Vec::new();
                self.encoder.end(&reply, &mut out);
                self.pending.extend(out);
                // The client had it as it came; the caches keep only a whole answer that passes
                // the checks a non-streamed one must pass.
                let checked = match answer.cut {
                    None => super::answer_check::complete(&self.request, &reply.text()),
                    Some(why) => Err(why),
                };
                match (self.remember.take(), checked) {
                    (Some(remember), Ok(())) => {
                        remember.store(std::sync::Arc::new(reply.clone())).await;
                    }
                    (_, Err(why)) => {
                        tracing::debug!("l2: a streamed answer is not cached ({why})");
                    }
                    (None, Ok(())) => {}
                }
                if let Some(mut t) = self.tracker.take() {
                    t.usage(Layer::L2, reply.usage);
                    t.finish(Some(Layer::L2), 200, None);
                }
            }
            Err(e) => {
                // Headers are sent: the stream breaks off, uncached, and the event says why.
                tracing::warn!("l2: the local answer broke off: {e:#}");
                let mut out = Vec::new();
                self.encoder
                    .fail("the local model's answer broke off", &mut out);
                self.pending.extend(out);
                if let Some(t) = self.tracker.take() {
                    t.finish(Some(Layer::L2), 200, Some(ErrorCode::LocalStreamFailed));
                }
            }
        }
    }
}

/// The outcome of a streamed local answer; `opening` already passed the answer guard.
pub fn outcome(
    ex: &Exchange,
    opening: String,
    rest: Streaming,
    model: String,
    remember: Remember,
    tracker: Tracker,
) -> Outcome {
    let encoder =
        stream_encoder(ex.format, ex.stream_usage).expect("triage streams only these formats");
    let mut state = State {
        rest: Some(rest),
        encoder,
        builder: ReplyBuilder::default(),
        pending: VecDeque::new(),
        remember: Some(remember),
        tracker: Some(tracker),
        prompt_tokens: ex.estimated_prompt_tokens(),
        request: ex.last_user_text().unwrap_or_default(),
    };
    state.push(Delta::Start(StreamHead {
        id: new_id("isartor-l2"),
        model,
        ..StreamHead::default()
    }));
    state.push(Delta::Text {
        choice: 0,
        text: opening,
    });
    let body = stream::unfold(state, |mut state| async move {
        loop {
            if let Some(bytes) = state.pending.pop_front() {
                return Some((Ok(bytes), state));
            }
            let rest = state.rest.as_mut()?;
            match rest.pieces.recv().await {
                Some(piece) => state.push(Delta::Text {
                    choice: 0,
                    text: piece,
                }),
                None => {
                    let Streaming { done, .. } = state.rest.take()?;
                    state.end(done).await;
                }
            }
        }
    });
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Outcome::Stream {
        layer: Layer::L2,
        status: StatusCode::OK,
        headers,
        provider: None,
        body: Box::pin(body),
    }
}
