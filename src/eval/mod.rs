//! Measuring the semantic cache on labelled data: [`pairs`] scores the real embedder and guard on
//! pairs of prompts per threshold; [`trace`] replays a day of prompts through the real daemon
//! and counts deflections and wrong hits. Used by `isartor eval semantic`.

pub mod pairs;
pub mod trace;
