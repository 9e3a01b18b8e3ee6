//! The semantic index: unit vectors in one contiguous `f32` array, grouped by context key (the
//! hash of everything but the last user turn), so a lookup only scores entries whose context is
//! canonically identical. Capacity is bounded with least-recently-used eviction (a `BTreeMap` of
//! use ticks: O(log n)) and entries expire after the TTL (a `BTreeMap` by expiry: O(log n)).
//! Freed slots are reused; nothing is shifted.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Meta;
use crate::exchange::Reply;
use crate::exchange::key::{self, CacheKey};

/// What is stored: the context it belongs to, its last user turn, its reply and what it is.
#[derive(Clone)]
pub struct Item {
    pub group: CacheKey,
    pub text: Arc<str>,
    pub reply: Arc<Reply>,
    pub meta: Arc<Meta>,
}

/// One live entry.
struct Live {
    /// [`key::semantic_id`] of its group and text.
    id: CacheKey,
    group: CacheKey,
    /// Position in its group's slot list.
    pos: usize,
    last_used: u64,
    /// When it was put in this index.
    stored: Instant,
    expires: Instant,
    generation: u64,
    text: Arc<str>,
    reply: Arc<Reply>,
    meta: Arc<Meta>,
    hits: u64,
}

/// An entry as `isartor cache ls` and `export` see it.
pub struct View {
    pub id: CacheKey,
    pub item: Item,
    pub vector: Vec<f32>,
    pub hits: u64,
    pub stored: Instant,
    pub expires: Instant,
}

/// A scored match, best first.
#[derive(Clone)]
pub struct Candidate {
    pub id: CacheKey,
    pub slot: u32,
    pub generation: u64,
    /// Cosine similarity to the query.
    pub score: f32,
    /// The stored entry's last user turn.
    pub text: Arc<str>,
    pub reply: Arc<Reply>,
    /// When it was put in this index.
    pub stored: Instant,
    pub expires: Instant,
}

pub struct VectorIndex {
    dims: usize,
    capacity: usize,
    ttl: Duration,
    vectors: Vec<f32>,
    slots: Vec<Option<Live>>,
    free: Vec<u32>,
    groups: HashMap<CacheKey, Vec<u32>>,
    ids: HashMap<CacheKey, u32>,
    lru: BTreeMap<u64, u32>,
    tick: u64,
    /// (expiry, generation) → slot; entries evicted early stay until their time, then are
    /// skipped by their generation.
    expiry: BTreeMap<(Instant, u64), u32>,
    next_generation: u64,
    live: usize,
    /// Entries removed to make room before their time (capacity reached).
    evicted: u64,
}

/// The dot product of two equal-length vectors, in eight independent lanes so the compiler
/// vectorises it.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

impl VectorIndex {
    pub fn new(dims: usize, capacity: usize, ttl: Duration) -> VectorIndex {
        VectorIndex {
            dims,
            capacity: capacity.max(1),
            ttl,
            vectors: Vec::new(),
            slots: Vec::new(),
            free: Vec::new(),
            groups: HashMap::new(),
            ids: HashMap::new(),
            lru: BTreeMap::new(),
            tick: 0,
            expiry: BTreeMap::new(),
            next_generation: 0,
            live: 0,
            evicted: 0,
        }
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Live entries (expired ones count until they are swept).
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Entries removed to make room (the index was full), since it was made.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Adds an entry that lives for the TTL, evicting expired ones and then the least recently
    /// used when full; an entry of the same context and text is replaced. A vector of the wrong
    /// length is refused (a model change must not corrupt the index). Returns the entry's id.
    pub fn insert(&mut self, item: Item, vector: &[f32], now: Instant) -> Result<CacheKey, String> {
        self.insert_until(item, vector, now, now + self.ttl)
    }

    /// [`insert`](Self::insert) with its own expiry (an entry another replica stored earlier).
    pub fn insert_until(
        &mut self,
        item: Item,
        vector: &[f32],
        now: Instant,
        expires: Instant,
    ) -> Result<CacheKey, String> {
        if vector.len() != self.dims {
            return Err(format!(
                "a {}-dimensional vector for a {}-dimensional index",
                vector.len(),
                self.dims
            ));
        }
        let id = key::semantic_id(&item.group, &item.text);
        self.forget(&id);
        self.sweep(now);
        if self.live >= self.capacity
            && let Some((_, slot)) = self.lru.pop_first()
        {
            self.remove(slot);
            self.evicted += 1;
        }
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                self.vectors.resize(self.vectors.len() + self.dims, 0.0);
                (self.slots.len() - 1) as u32
            }
        };
        let at = slot as usize * self.dims;
        self.vectors[at..at + self.dims].copy_from_slice(vector);
        let members = self.groups.entry(item.group).or_default();
        members.push(slot);
        self.tick += 1;
        self.next_generation += 1;
        self.slots[slot as usize] = Some(Live {
            id,
            group: item.group,
            pos: members.len() - 1,
            last_used: self.tick,
            stored: now,
            expires,
            generation: self.next_generation,
            text: item.text,
            reply: item.reply,
            meta: item.meta,
            hits: 0,
        });
        self.ids.insert(id, slot);
        self.lru.insert(self.tick, slot);
        self.expiry.insert((expires, self.next_generation), slot);
        self.live += 1;
        Ok(id)
    }

    /// Whether the entry `id` is held and unexpired.
    pub fn contains(&self, id: &CacheKey, now: Instant) -> bool {
        self.ids
            .get(id)
            .and_then(|&slot| self.slots[slot as usize].as_ref())
            .is_some_and(|live| live.expires > now)
    }

    /// Removes the entry `id`; returns whether it was held.
    pub fn forget(&mut self, id: &CacheKey) -> bool {
        match self.ids.get(id) {
            Some(&slot) => {
                self.remove(slot);
                true
            }
            None => false,
        }
    }

    /// Removes every entry; returns how many there were.
    pub fn clear(&mut self) -> usize {
        let live = self.live;
        *self = VectorIndex::new(self.dims, self.capacity, self.ttl);
        live
    }

    /// Every unexpired entry.
    pub fn entries(&self, now: Instant) -> Vec<View> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(slot, live)| {
                let live = live.as_ref().filter(|l| l.expires > now)?;
                let at = slot * self.dims;
                Some(View {
                    id: live.id,
                    item: Item {
                        group: live.group,
                        text: live.text.clone(),
                        reply: live.reply.clone(),
                        meta: live.meta.clone(),
                    },
                    vector: self.vectors[at..at + self.dims].to_vec(),
                    hits: live.hits,
                    stored: live.stored,
                    expires: live.expires,
                })
            })
            .collect()
    }

    /// Up to `k` unexpired entries of `group` scoring at least `min_score`, best first.
    pub fn search(
        &self,
        group: &CacheKey,
        query: &[f32],
        min_score: f32,
        k: usize,
        now: Instant,
    ) -> Vec<Candidate> {
        let Some(members) = self.groups.get(group) else {
            return Vec::new();
        };
        if query.len() != self.dims {
            return Vec::new();
        }
        let mut best: Vec<(f32, u32)> = Vec::with_capacity(k + 1);
        for &slot in members {
            let at = slot as usize * self.dims;
            let score = dot(&self.vectors[at..at + self.dims], query);
            if score < min_score || (best.len() == k && score <= best[k - 1].0) {
                continue;
            }
            match &self.slots[slot as usize] {
                Some(live) if live.expires > now => {}
                _ => continue,
            }
            let at = best.partition_point(|(s, _)| *s >= score);
            best.insert(at, (score, slot));
            best.truncate(k);
        }
        best.into_iter()
            .filter_map(|(score, slot)| {
                let live = self.slots[slot as usize].as_ref()?;
                Some(Candidate {
                    id: live.id,
                    slot,
                    generation: live.generation,
                    score,
                    text: live.text.clone(),
                    reply: live.reply.clone(),
                    stored: live.stored,
                    expires: live.expires,
                })
            })
            .collect()
    }

    /// Marks a served entry as just used and counts the hit (if it is still the same entry).
    pub fn touch(&mut self, slot: u32, generation: u64) {
        self.tick += 1;
        let tick = self.tick;
        if let Some(Some(live)) = self.slots.get_mut(slot as usize)
            && live.generation == generation
        {
            self.lru.remove(&live.last_used);
            live.last_used = tick;
            live.hits += 1;
            self.lru.insert(tick, slot);
        }
    }

    /// Drops every entry whose TTL has passed.
    pub fn sweep(&mut self, now: Instant) {
        while let Some((&(expires, generation), &slot)) = self.expiry.first_key_value() {
            if expires > now {
                break;
            }
            self.expiry.pop_first();
            if matches!(&self.slots[slot as usize], Some(l) if l.generation == generation) {
                self.remove(slot);
            }
        }
    }

    fn remove(&mut self, slot: u32) {
        let Some(live) = self.slots[slot as usize].take() else {
            return;
        };
        self.lru.remove(&live.last_used);
        self.ids.remove(&live.id);
        if let Some(members) = self.groups.get_mut(&live.group) {
            members.swap_remove(live.pos);
            if let Some(&moved) = members.get(live.pos)
                && let Some(m) = self.slots[moved as usize].as_mut()
            {
                m.pos = live.pos;
            }
            if members.is_empty() {
                self.groups.remove(&live.group);
            }
        }
        self.free.push(slot);
        self.live -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> Arc<Reply> {
        Arc::new(Reply::of_text(text))
    }

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = dot(v, v).sqrt();
        v.iter().map(|x| x / n).collect()
    }

    fn item(group: CacheKey, text: &str) -> Item {
        Item {
            group,
            text: text.into(),
            reply: reply(text),
            meta: Arc::default(),
        }
    }

    fn answer(c: &Candidate) -> String {
        c.text.to_string()
    }

    const G: CacheKey = CacheKey([1; 32]);
    const OTHER: CacheKey = CacheKey([2; 32]);

    #[test]
    fn dot_matches_a_plain_sum() {
        let a: Vec<f32> = (0..389).map(|i| (i as f32).sin()).collect();
        let b: Vec<f32> = (0..389).map(|i| (i as f32 * 0.7).cos()).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-3);
    }

    #[test]
    fn best_first_within_the_group_only() {
        let now = Instant::now();
        let mut ix = VectorIndex::new(3, 10, Duration::from_secs(60));
        ix.insert(item(G, "x"), &unit(&[1.0, 0.0, 0.0]), now)
            .unwrap();
        ix.insert(item(G, "xy"), &unit(&[1.0, 1.0, 0.0]), now)
            .unwrap();
        ix.insert(item(OTHER, "o"), &unit(&[1.0, 0.0, 0.0]), now)
            .unwrap();
        let q = unit(&[1.0, 0.1, 0.0]);
        let found = ix.search(&G, &q, 0.5, 5, now);
        assert_eq!(found.iter().map(answer).collect::<Vec<_>>(), ["x", "xy"]);
        assert!(found[0].score > 0.99 && found[1].score < found[0].score);
        assert!(ix.search(&G, &q, 0.999, 5, now).is_empty());
        assert_eq!(ix.search(&G, &q, 0.5, 1, now).len(), 1);
        assert!(ix.search(&CacheKey([9; 32]), &q, 0.0, 5, now).is_empty());
        assert!(
            ix.insert(item(G, "bad"), &[1.0, 0.0], now).is_err(),
            "a vector of another model's size is refused"
        );
    }

    #[test]
    fn ttl_expiry_and_lru_eviction_reuse_slots() {
        let t0 = Instant::now();
        let mut ix = VectorIndex::new(2, 2, Duration::from_secs(10));
        ix.insert(item(G, "a"), &unit(&[1.0, 0.0]), t0).unwrap();
        ix.insert(item(G, "b"), &unit(&[0.0, 1.0]), t0).unwrap();
        // Use "a", so "b" is the least recently used when a third arrives.
        let a = ix.search(&G, &unit(&[1.0, 0.0]), 0.9, 1, t0).remove(0);
        ix.touch(a.slot, a.generation);
        ix.insert(item(G, "c"), &unit(&[1.0, 1.0]), t0).unwrap();
        assert_eq!((ix.len(), ix.evicted()), (2, 1));
        assert!(
            ix.search(&G, &unit(&[0.0, 1.0]), 0.99, 1, t0).is_empty(),
            "b evicted"
        );
        assert_eq!(ix.search(&G, &unit(&[1.0, 0.0]), 0.99, 1, t0).len(), 1);
        assert_eq!(ix.slots.len(), 2, "the freed slot was reused");

        let later = t0 + Duration::from_secs(11);
        assert!(
            ix.search(&G, &unit(&[1.0, 0.0]), 0.0, 5, later).is_empty(),
            "expired"
        );
        ix.sweep(later);
        assert!(ix.is_empty() && ix.groups.is_empty() && ix.lru.is_empty());
        assert!(ix.ids.is_empty());
    }

    #[test]
    fn entries_are_named_by_context_and_text_and_can_be_forgotten() {
        let now = Instant::now();
        let mut ix = VectorIndex::new(2, 10, Duration::from_secs(10));
        let a = ix.insert(item(G, "a"), &unit(&[1.0, 0.0]), now).unwrap();
        // The same context and text again replaces the entry; another context is another entry.
        assert_eq!(ix.insert(item(G, "a"), &unit(&[1.0, 0.1]), now).unwrap(), a);
        let other = ix
            .insert(item(OTHER, "a"), &unit(&[1.0, 0.0]), now)
            .unwrap();
        assert_ne!(a, other);
        assert_eq!(ix.len(), 2);
        assert!(ix.contains(&a, now) && !ix.contains(&a, now + Duration::from_secs(11)));
        let found = ix.search(&G, &unit(&[1.0, 0.0]), 0.5, 1, now).remove(0);
        assert_eq!(found.id, a);
        ix.touch(found.slot, found.generation);
        let listed = ix.entries(now);
        assert_eq!(listed.iter().find(|v| v.id == a).unwrap().hits, 1);
        assert!(ix.forget(&a) && !ix.forget(&a));
        assert!(!ix.contains(&a, now));
        assert_eq!(ix.clear(), 1);
        assert!(ix.is_empty() && ix.entries(now).is_empty());
    }
}
