//! Prompts that share most of their words: a pasted document, a log or a template around a short
//! question. Their embeddings are alike whatever the question, because the embedding mostly sees
//! what they share, so the guard's word rules (which look at whole prompts) do not see that the
//! questions differ. [`differing_spans`] cuts off the shared start and end; the semantic layer
//! then embeds the two differing parts and serves only if they match on their own.

/// Prompts shorter than this (in words) are judged whole.
const LONG: usize = 40;
/// The shared start and end must cover at least this share of the longer prompt's words.
const SHARED: f64 = 0.5;
/// A differing part shorter than this (in words) is a detail the word rules judge (a number, a
/// negation, one swapped word), not a question of its own.
const PART: usize = 3;

/// The parts of two long prompts that differ once their shared start and end are cut off, when
/// the shared text is most of them and both parts are long enough to be questions of their own.
pub fn differing_spans(stored: &str, new: &str) -> Option<(String, String)> {
    let a: Vec<&str> = stored.split_whitespace().collect();
    let b: Vec<&str> = new.split_whitespace().collect();
    let longer = a.len().max(b.len());
    if longer < LONG {
        return None;
    }
    let start = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let room = a.len().min(b.len()) - start;
    let end = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(room)
        .take_while(|(x, y)| x == y)
        .count();
    if ((start + end) as f64) < SHARED * longer as f64 {
        return None;
    }
    let (da, db) = (&a[start..a.len() - end], &b[start..b.len() - end]);
    if da.len() < PART || db.len() < PART {
        return None;
    }
    Some((da.join(" "), db.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "Isartor configuration, excerpt. cache_mode chooses the caches: exact, \
        semantic or both. similarity_threshold is the cosine similarity a candidate needs; a \
        guard then refuses candidates that differ in a number or a negation. cache_ttl_secs is \
        how long an answer is served.";

    #[test]
    fn a_shared_document_leaves_the_questions() {
        let a = format!("{DOC}\n\nQuestion: What is the default similarity threshold?");
        let b = format!("{DOC}\n\nQuestion: How long is a cached answer served by default?");
        assert_eq!(
            differing_spans(&a, &b),
            Some((
                "What is the default similarity threshold?".into(),
                "How long is a cached answer served by default?".into()
            ))
        );
    }

    #[test]
    fn short_prompts_details_and_unrelated_prompts_are_left_to_the_rest() {
        // Short: the word rules judge them whole.
        assert_eq!(
            differing_spans("sort a list ascending", "sort a list descending"),
            None
        );
        // One differing word in a long prompt is a detail (number, negation, word rules).
        let a = format!("{DOC} Question: is the default 300 seconds?");
        let b = format!("{DOC} Question: is the default 600 seconds?");
        assert_eq!(differing_spans(&a, &b), None);
        // Little shared text: the embedding sees the prompts themselves.
        let long_a = "word ".repeat(45);
        let long_b = "other ".repeat(45);
        assert_eq!(differing_spans(&long_a, &long_b), None);
        // The same prompt: nothing differs.
        assert_eq!(differing_spans(DOC, DOC), None);
    }
}
