//! `isartor eval semantic --pairs FILE | --trace FILE`: measure the semantic cache (the real
//! embedder and guard, with this configuration's model and threshold) on labelled data.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};

use super::Context;
use crate::eval::{pairs, trace};
use crate::inference::embedder::Bert;
use crate::inference::models::{self, Source};
use crate::pipeline::guard::{self, Reject};

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub what: EvalWhat,
}

#[derive(Debug, Subcommand)]
pub enum EvalWhat {
    /// The semantic cache: serving rates on labelled pairs, and/or a replayed trace
    Semantic(SemanticArgs),
}

#[derive(Debug, Args)]
pub struct SemanticArgs {
    /// JSON lines {"a", "b", "same", "category"?}: per threshold, same-answer pairs served and
    /// traps served wrong, with the guard and with the cosine alone
    #[arg(long, value_name = "FILE")]
    pub pairs: Option<PathBuf>,

    /// JSON lines {"i", "prompt", "class"}: replay through the real daemon (echo provider), print
    /// deflection per layer and wrong hits
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,

    /// With --trace: replay it in shadow mode too (semantic_mode = shadow), and compare what
    /// shadow mode reports with the wrong hits serve mode actually made
    #[arg(long, requires = "trace")]
    pub shadow: bool,

    /// Thresholds for --pairs
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.70,0.75,0.80,0.85,0.90,0.95"
    )]
    pub thresholds: Vec<f32>,

    /// With --pairs: list the pairs served wrong and the same-answer pairs refused, at the
    /// configured similarity_threshold
    #[arg(long)]
    pub verbose: bool,

    /// With --pairs: also write every pair scored to FILE, as JSON lines {"id", "a", "b", "same",
    /// "cosine", "guard"} ("served", or the rule that refused it), for analysis elsewhere
    #[arg(long, value_name = "FILE", requires = "pairs")]
    pub scores: Option<PathBuf>,
}

pub fn run(ctx: &Context, args: EvalArgs) -> Result<ExitCode> {
    let EvalWhat::Semantic(args) = args.what;
    if args.pairs.is_none() && args.trace.is_none() {
        bail!("give --pairs FILE and/or --trace FILE");
    }
    let config = ctx.load_config()?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    if let Some(path) = &args.pairs {
        let pairs = pairs::read(path)?;
        let source = Source::parse(&config.embedding_model);
        let files = runtime.block_on(models::resolve(
            &source,
            &models::EMBEDDER_FILES,
            &models::hub_cache_dir(),
            config.offline_mode,
        ))?;
        let bert = Bert::load(&files)?;
        let started = Instant::now();
        let (scored, embedded) = pairs::score(&bert, &pairs)?;
        println!(
            "{} pairs from {} with {source}: embedded {} prompts in {:.1} s",
            pairs.len(),
            path.display(),
            embedded,
            started.elapsed().as_secs_f64()
        );
        print_pairs(&pairs::table(&scored, &args.thresholds));
        print_decisions(&pairs::decisions(
            &scored,
            config.similarity_threshold as f32,
        ));
        if args.verbose {
            print_mistakes(&scored, config.similarity_threshold as f32);
        }
        if let Some(out) = &args.scores {
            let file = std::fs::File::create(out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            pairs::write_scores(&scored, std::io::BufWriter::new(file))
                .with_context(|| format!("cannot write {}", out.display()))?;
        }
    }
    if let Some(path) = &args.trace {
        let lines = trace::read(path)?;
        let threshold = config.similarity_threshold;
        let shadow = args.shadow.then(|| {
            let mut c = config.clone();
            c.semantic_mode = crate::config::SemanticMode::Shadow;
            c
        });
        let report = runtime.block_on(trace::replay(config, &lines))?;
        print_trace(path, threshold, &report);
        if let Some(config) = shadow {
            let shadowed = runtime.block_on(trace::replay(config, &lines))?;
            print_shadow(&report, &shadowed);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_pairs(rows: &[pairs::Row]) {
    let Some(first) = rows.first() else {
        return;
    };
    println!(
        "\n{:>9}  {:>22}  {:>22}  {:>9}",
        "threshold", "same served (plain)", "traps served (plain)", "precision"
    );
    for r in rows {
        println!(
            "{:>9.2}  {:>9.1}% ({:>6.1}%)   {:>9.1}% ({:>6.1}%)   {:>8.1}%",
            r.threshold,
            r.should_hit.percent(),
            r.should_hit_plain.percent(),
            r.traps.percent(),
            r.traps_plain.percent(),
            r.precision()
        );
    }
    println!("\nserved, per category (with the guard):");
    print!("{:>16}", "category");
    for r in rows {
        print!("  {:>6.2}", r.threshold);
    }
    println!();
    for category in first.categories.keys() {
        print!("{category:>16}");
        for r in rows {
            print!("  {:>5.1}%", r.categories[category].percent());
        }
        println!("   (n={})", first.categories[category].total);
    }
}

/// The guard's decisions per rule at the configured threshold.
fn print_decisions(d: &pairs::Decisions) {
    println!("\nthe guard at the configured threshold, on the pairs above it:");
    println!(
        "{:>16}  {:>14}  {:>20}",
        "rule", "traps refused", "same-answer refused"
    );
    for (rule, (traps, same)) in &d.refused {
        println!("{rule:>16}  {traps:>14}  {same:>20}");
    }
    println!(
        "{:>16}  {:>14}  {:>20}",
        "(served)",
        format!("{} traps", d.served.0),
        format!("{} same-answer", d.served.1)
    );
}

fn print_mistakes(scored: &[pairs::Scored], threshold: f32) {
    println!("\nat threshold {threshold}:");
    for s in scored {
        let close = s.cosine >= threshold;
        match (s.pair.same, close, s.guard) {
            (false, true, Ok(())) => println!(
                "  SERVED WRONG {} [{}] {:.3}\n    a: {}\n    b: {}",
                s.pair.id, s.pair.category, s.cosine, s.pair.a, s.pair.b
            ),
            (true, true, Err(why)) => println!(
                "  refused ({}) {} [{}] {:.3}\n    a: {}\n    b: {}",
                refusal(why, &s.pair.a, &s.pair.b),
                s.pair.id,
                s.pair.category,
                s.cosine,
                s.pair.a,
                s.pair.b
            ),
            (true, false, _) => println!(
                "  below threshold {} [{}] {:.3}\n    a: {}\n    b: {}",
                s.pair.id, s.pair.category, s.cosine, s.pair.a, s.pair.b
            ),
            _ => {}
        }
    }
}

/// A rule's name, and for the unmatched-word rule the words each prompt had no match for.
fn refusal(why: Reject, a: &str, b: &str) -> String {
    if why != Reject::Unmatched {
        return why.as_str().to_string();
    }
    let (x, y) = guard::unmatched_words(a, b);
    format!("{}: {} / {}", why.as_str(), x.join(", "), y.join(", "))
}

fn print_trace(path: &std::path::Path, threshold: f64, r: &trace::Report) {
    println!(
        "\ntrace {}: {} lines, similarity_threshold {threshold}",
        path.display(),
        r.lines
    );
    println!(
        "{:>6}  {:>8}  {:>7}  {:>10}  {:>10}",
        "layer", "requests", "share", "p50", "p95"
    );
    for (layer, l) in &r.layers {
        println!(
            "{layer:>6}  {:>8}  {:>6.1}%  {:>10}  {:>10}",
            l.requests,
            100.0 * l.requests as f64 / r.lines.max(1) as f64,
            crate::display::micros(l.percentile(0.5)),
            crate::display::micros(l.percentile(0.95)),
        );
    }
    let share = |n: usize| 100.0 * n as f64 / r.lines.max(1) as f64;
    let a = r.answerable;
    println!(
        "answerable from earlier lines: {:.1}% ({} of {}; {} of them word for word)",
        share(a.lines),
        a.lines,
        r.lines,
        a.word_for_word
    );
    println!(
        "deflection rate: {:.1}% ({} of {}), {:.1}% of the answerable",
        share(r.served),
        r.served,
        r.lines,
        100.0 * r.served as f64 / a.lines.max(1) as f64
    );
    // The share above counts a wrong hit as deflection; this one does not.
    let right = r.served.saturating_sub(r.wrong.len());
    println!(
        "right answers served: {right}, {:.1}% of the answerable",
        100.0 * right as f64 / a.lines.max(1) as f64
    );
    println!(
        "wrong hits: {} ({:.2}% of served, {:.2}% of lines)",
        r.wrong.len(),
        100.0 * r.wrong.len() as f64 / r.served.max(1) as f64,
        100.0 * r.wrong.len() as f64 / r.lines.max(1) as f64
    );
    for (i, prompt, stored, layer) in &r.wrong {
        println!("  line {i} ({layer}): {prompt:?} got {stored:?}");
    }
}

/// Shadow mode's report next to what serve mode did on the same trace.
fn print_shadow(serve: &trace::Report, shadowed: &trace::Report) {
    let Some(s) = shadowed.shadow else {
        return;
    };
    let l1b = serve.layers.get("l1b").map_or(0, |l| l.requests);
    let wrong_l1b = serve.wrong.iter().filter(|w| w.3 == "l1b").count();
    let percent = |n: u64| 100.0 * n as f64 / s.would_serve.max(1) as f64;
    println!(
        "
shadow mode on the same trace (nothing served from L1b):"
    );
    println!(
        "  would have served {}; identical {} ({:.1}%), agreed {} ({:.1}%), still judging {}",
        s.would_serve,
        s.identical,
        percent(s.identical),
        s.agreed,
        percent(s.agreed),
        s.pending
    );
    println!(
        "  shadow's wrong-hit estimate: {} not identical ({:.2}%), {} not agreed ({:.2}%)",
        s.would_serve - s.identical,
        percent(s.would_serve - s.identical),
        s.would_serve - s.agreed,
        percent(s.would_serve - s.agreed)
    );
    println!(
        "  serve mode: {l1b} L1b hits, {wrong_l1b} of them wrong ({:.2}%); {} wrong answers in all \
         (L1a repeats of a wrong L1b answer included)",
        100.0 * wrong_l1b as f64 / l1b.max(1) as f64,
        serve.wrong.len()
    );
}
