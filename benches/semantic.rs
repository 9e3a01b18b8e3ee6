//! The semantic cache's costs: embedding a short and a ~200-token prompt with the real MiniLM
//! (one at a time, and a batch of 32), searching the vector index at 10k and 100k entries, and
//! the guard. Needs the model in the Hugging Face cache (scripts/fetch-models.sh).
//! Run: `cargo bench --bench semantic`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use isartor::exchange::key::CacheKey;
use isartor::exchange::{Choice, FinishReason, Part, Reply, Usage};
use isartor::inference::embedder::Bert;
use isartor::inference::models::{self, Source};
use isartor::pipeline::guard;
use isartor::store::vectors::{Item, VectorIndex};

const SHORT: &str = "How do I undo the last git commit but keep my changes?";

fn long() -> String {
    "My CI pipeline fails on the integration step because the Postgres container is not ready \
     when the tests start; the logs show connection refused on port 5432 and then the job times \
     out after ten minutes. "
        .repeat(4)
}

fn bert() -> Bert {
    Bert::load(&files()).unwrap()
}

fn files() -> Vec<std::path::PathBuf> {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(models::resolve(
            &Source::parse("all-minilm-l6-v2"),
            &models::EMBEDDER_FILES,
            &models::hub_cache_dir(),
            true,
        ))
        .expect("run scripts/fetch-models.sh first")
}

fn embedding(c: &mut Criterion) {
    let started = Instant::now();
    let bert = bert();
    eprintln!("model load: {:?}", started.elapsed());
    let long = long();
    let mut g = c.benchmark_group("embed");
    g.sample_size(30).measurement_time(Duration::from_secs(8));
    g.bench_function("short prompt", |b| b.iter(|| bert.embed(&[SHORT]).unwrap()));
    g.bench_function("200-token prompt (head and tail window)", |b| {
        b.iter(|| bert.embed(&[long.as_str()]).unwrap())
    });
    // The same model with f32 dense layers, for comparison.
    let f32_bert = Bert::load_with(&files(), false).unwrap();
    g.bench_function("short prompt, f32 weights", |b| {
        b.iter(|| f32_bert.embed(&[SHORT]).unwrap())
    });
    g.bench_function(
        "200-token prompt (head and tail window), f32 weights",
        |b| b.iter(|| f32_bert.embed(&[long.as_str()]).unwrap()),
    );
    let batch: Vec<String> = (0..32).map(|i| format!("{SHORT} (variant {i})")).collect();
    let texts: Vec<&str> = batch.iter().map(String::as_str).collect();
    g.throughput(Throughput::Elements(32));
    g.bench_function("batch of 32 short prompts", |b| {
        b.iter(|| bert.embed(&texts).unwrap())
    });
    g.finish();
}

fn search(c: &mut Criterion) {
    let reply = Arc::new(Reply {
        id: "r".into(),
        model: "m".into(),
        created: 0,
        choices: vec![Choice {
            index: 0,
            parts: vec![Part::text("answer")],
            finish: Some(FinishReason::Stop),
        }],
        usage: Usage::default(),
        system_fingerprint: None,
    });
    let mut rng = fastrand::Rng::with_seed(7);
    let mut unit = || {
        let v: Vec<f32> = (0..384).map(|_| rng.f32() - 0.5).collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect::<Vec<f32>>()
    };
    let group = CacheKey([1; 32]);
    let mut g = c.benchmark_group("search");
    for size in [10_000usize, 100_000] {
        let now = Instant::now();
        let mut index = VectorIndex::new(384, size, Duration::from_secs(3600));
        // Every entry in one context: the worst case (one system prompt, single-turn requests).
        for i in 0..size {
            let item = Item {
                group,
                text: format!("prompt {i}").into(),
                reply: reply.clone(),
                meta: Default::default(),
            };
            index.insert(item, &unit(), now).unwrap();
        }
        let query = unit();
        g.bench_function(format!("{size} entries, one context"), |b| {
            b.iter(|| index.search(&group, &query, 0.85, 4, now))
        });
    }
    g.finish();
}

fn verify(c: &mut Criterion) {
    c.bench_function("guard verify (paraphrase pair)", |b| {
        b.iter(|| {
            guard::verify(
                "How do I keep an ssh connection from timing out",
                "How do I keep an SSH connection from timing out?",
            )
        })
    });
}

criterion_group!(benches, embedding, search, verify);
criterion_main!(benches);
