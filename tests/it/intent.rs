//! The embedding classifier of the embedded L2 engine against requests we labelled by hand
//! (tests/data/l2-labels.jsonl: every fifth distinct prompt of shared/data/coding-trace.jsonl,
//! plus the two examples, plus 24 requests of our own, many listing several parts: the
//! dev set the word rules of `inference::scope` were tuned on). What matters most is local vs cloud: a COMPLEX request
//! answered locally is a wrong answer, a local-worthy one sent to the cloud only costs money.

use isartor::inference::embedder::{Bert, Embedder};
use isartor::inference::intent::{Intent, IntentClassifier};
use isartor::inference::models::{self, EMBEDDER_FILES, Source};
use serde_json::Value;

#[tokio::test]
async fn labelled_trace_prompts_are_sorted_local_or_cloud() {
    let source = Source::parse("all-minilm-l6-v2");
    let files = models::resolve(&source, &EMBEDDER_FILES, &models::hub_cache_dir(), true)
        .await
        .expect("MiniLM is in the cache (scripts/fetch-models.sh)");
    let bert = tokio::task::spawn_blocking(move || Bert::load(&files))
        .await
        .unwrap()
        .unwrap();
    let started = std::time::Instant::now();
    let classifier = IntentClassifier::new(Embedder::start(bert, "minilm".into()).unwrap())
        .await
        .unwrap();
    eprintln!("examples embedded in {} ms", started.elapsed().as_millis());
    let text = std::fs::read_to_string("tests/data/l2-labels.jsonl").unwrap();
    let (mut total, mut same_label, mut same_side, mut complex_served_locally) = (0, 0, 0, 0);
    let mut micros = Vec::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let want = v["label"].as_str().unwrap();
        let started = std::time::Instant::now();
        let (got, _) = classifier
            .classify(v["prompt"].as_str().unwrap())
            .await
            .unwrap();
        micros.push(started.elapsed().as_micros());
        let got = match got {
            Intent::Template => "TEMPLATE",
            Intent::Snippet => "SNIPPET",
            Intent::Complex => "COMPLEX",
        };
        total += 1;
        same_label += usize::from(got == want);
        same_side += usize::from((got == "COMPLEX") == (want == "COMPLEX"));
        if want != "COMPLEX" && got == "COMPLEX" {
            eprintln!("local-worthy sent to the cloud: {}", v["prompt"]);
        }
        if want == "COMPLEX" && got != "COMPLEX" {
            complex_served_locally += 1;
            eprintln!("COMPLEX taken as {got}: {}", v["prompt"]);
        }
    }
    micros.sort();
    eprintln!(
        "classify: p50 {} us, p95 {} us",
        micros[micros.len() / 2],
        micros[micros.len() * 95 / 100]
    );
    eprintln!(
        "{total} labelled prompts: label {same_label}/{total}, local-vs-cloud {same_side}/{total}, \
         COMPLEX answered locally {complex_served_locally}"
    );
    // Floors, not the measured values: they fail when the classifier regresses.
    assert!(
        same_side * 10 >= total * 8,
        "local-vs-cloud {same_side}/{total}"
    );
    assert!(
        complex_served_locally <= 1,
        "{complex_served_locally} COMPLEX answered locally"
    );
}
