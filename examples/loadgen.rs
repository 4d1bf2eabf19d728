//! ACME load generator: runs N complete RFC 8555 orders at concurrency C over a few accounts
//! against a bridge (or Pebble, with --answer-challenges) on loopback, and reports orders/s,
//! failures by kind, latency percentiles of whole orders and of each step, and badNonce retries —
//! as JSON on stdout plus one human line on stderr. See docs/performance.md ("Load generator").
//!
//! ```sh
//! cargo run --release --example loadgen -- --directory https://localhost:14000/directory \
//!     --ca data/ca.pem --eab-kid kid-… --eab-hmac … --orders 200 --concurrency 8
//! ```

#[path = "loadgen/acme.rs"]
mod acme;
#[path = "loadgen/cert.rs"]
mod cert;
#[path = "loadgen/challenge.rs"]
mod challenge;
#[path = "loadgen/order.rs"]
mod order;
#[path = "loadgen/stats.rs"]
mod stats;

use acme::{Account, Client};
use anyhow::{bail, Context, Result};
use challenge::{Http01, PollPace};
use clap::Parser;
use order::{one_order, Mode};
use serde_json::{json, Value};
use stats::Samples;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "ACME (RFC 8555) load generator for acme-sectigo-bridge; loopback only")]
struct Args {
    /// Directory URL; must be https on 127.0.0.0/8, ::1 or localhost.
    #[arg(long)]
    directory: String,
    /// PEM bundle to trust for the server's TLS certificate (zero-setup mode: DATA_DIR/ca.pem).
    #[arg(long)]
    ca: PathBuf,
    /// Complete orders to run.
    #[arg(long, default_value_t = 100)]
    orders: usize,
    /// Orders run first, at the same concurrency and over the same accounts, and left out of every
    /// figure but `warmup_*`: the server's caches and connections are then warm, as in a
    /// long-running deployment.
    #[arg(long, default_value_t = 0)]
    warmup_orders: usize,
    /// Orders in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Accounts the orders are spread over.
    #[arg(long, default_value_t = 4)]
    accounts: usize,
    /// EAB key id.
    #[arg(long, requires = "eab_hmac")]
    eab_kid: Option<String>,
    /// EAB HMAC key, base64url.
    #[arg(long, requires = "eab_kid")]
    eab_hmac: Option<String>,
    /// Names are o<n>.w<worker>.<run-tag>.<suffix>.
    #[arg(long, default_value = "example.com")]
    domain_suffix: String,
    /// DNS label that sets this run's names apart from earlier runs' (so no authorization of an
    /// earlier run is reused); default random. An empty tag leaves the label out.
    #[arg(long)]
    run_tag: Option<String>,
    /// Answer pending authorizations: POST {} to their http-01 challenge and poll the
    /// authorization until it is valid (for Pebble with PEBBLE_VA_ALWAYS_VALID, or with
    /// --http01-listen for real validation). Without it a pending authorization is a failure
    /// `challenge-needed`.
    #[arg(long)]
    answer_challenges: bool,
    /// Serve the key authorizations over HTTP on this loopback address (e.g. 127.0.0.1:5002), for
    /// servers that really validate http-01; implies --answer-challenges.
    #[arg(long)]
    http01_listen: Option<SocketAddr>,
    /// Wait in milliseconds before the first poll of a processing order or validating
    /// authorization; each further poll waits twice as long, up to --poll-max-ms. The same rule
    /// for every server.
    #[arg(long, default_value_t = 50)]
    poll_min_ms: u64,
    /// Longest wait in milliseconds between polls; a server's Retry-After is honoured up to it.
    #[arg(long, default_value_t = 1000)]
    poll_max_ms: u64,
    /// DNS names per order.
    #[arg(long, default_value_t = 1)]
    names_per_order: usize,
    /// Hard bound on the whole run (setup included); orders in flight then are cut off.
    #[arg(long, default_value_t = 300)]
    max_seconds: u64,
    /// Also write the JSON report here.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Retry as real clients do: a request that meets a connection error (refused, reset, cut),
    /// or a 503 with `Retry-After`, is sent again (fresh nonce; waiting `Retry-After`, at most
    /// 5 s, or 250 ms after a connection error) for up to this many seconds per request. 0 = off.
    #[arg(long, default_value_t = 0)]
    retry_secs: u64,
    /// Polls of one processing order (or one validating authorization) before giving up (the
    /// deadline bounds them too).
    #[arg(long, default_value_t = 600)]
    max_polls: u32,
}

/// The names of order `n` run by `worker`; `suffix` already carries the run tag.
fn names(n: usize, worker: usize, per_order: usize, suffix: &str) -> Vec<String> {
    (0..per_order)
        .map(|j| match j {
            0 => format!("o{n}.w{worker}.{suffix}"),
            _ => format!("o{n}-{j}.w{worker}.{suffix}"),
        })
        .collect()
}

/// A fresh random run tag: `r` and 8 hex digits.
fn random_tag() -> String {
    format!("r{:08x}", rand::random::<u32>())
}

/// A run tag must be one DNS label (lower-case letters, digits, inner hyphens) or empty.
fn check_tag(tag: &str) -> Result<()> {
    let ok = tag.len() <= 63
        && tag
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !tag.starts_with('-')
        && !tag.ends_with('-');
    if !ok {
        bail!("--run-tag {tag:?} is not one lower-case DNS label");
    }
    Ok(())
}

struct Shared {
    client: Client,
    accounts: Vec<Account>,
    next: AtomicUsize,
    args: Args,
    /// `<run-tag>.<domain-suffix>`, or the suffix alone for an empty tag.
    suffix: String,
    mode: Mode,
    deadline: tokio::time::Instant,
}

#[derive(Default)]
struct Outcome {
    samples: Samples,
    completed: usize,
    cut_off: usize,
    /// kind → (count, first detail)
    failures: BTreeMap<String, (u64, String)>,
}

/// Runs orders numbered below `end` until they are all taken or the deadline passes.
async fn worker(worker: usize, sh: Arc<Shared>, end: usize) -> Outcome {
    let mut out = Outcome::default();
    loop {
        if tokio::time::Instant::now() >= sh.deadline {
            break;
        }
        let n = sh.next.fetch_add(1, Ordering::Relaxed);
        if n >= end {
            break;
        }
        let acct = &sh.accounts[n % sh.accounts.len()];
        let names = names(n, worker, sh.args.names_per_order, &sh.suffix);
        let run = one_order(&sh.client, acct, &names, &sh.mode, &mut out.samples);
        match tokio::time::timeout_at(sh.deadline, run).await {
            Ok(Ok(())) => out.completed += 1,
            Ok(Err(f)) => out.failures.entry(f.kind).or_insert((0, f.detail)).0 += 1,
            Err(_) => out.cut_off += 1,
        }
    }
    out
}

/// Runs the orders numbered up to `end` (from where the last phase stopped) at the set
/// concurrency and gathers what the workers saw.
async fn run_phase(shared: &Arc<Shared>, end: usize) -> Result<Outcome> {
    let handles: Vec<_> = (0..shared.args.concurrency)
        .map(|w| tokio::spawn(worker(w, shared.clone(), end)))
        .collect();
    let mut total = Outcome::default();
    for h in handles {
        let o = h.await.context("worker panicked")?;
        total.samples.merge(o.samples);
        total.completed += o.completed;
        total.cut_off += o.cut_off;
        for (kind, (count, detail)) in o.failures {
            total.failures.entry(kind).or_insert((0, detail)).0 += count;
        }
    }
    Ok(total)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.concurrency == 0 || args.accounts == 0 || args.names_per_order == 0 {
        bail!("--concurrency, --accounts and --names-per-order must be at least 1");
    }
    let run_tag = args.run_tag.clone().unwrap_or_else(random_tag);
    check_tag(&run_tag)?;
    let suffix = match run_tag.as_str() {
        "" => args.domain_suffix.clone(),
        t => format!("{t}.{}", args.domain_suffix),
    };
    let pace = PollPace {
        floor: Duration::from_millis(args.poll_min_ms),
        cap: Duration::from_millis(args.poll_max_ms),
        max_polls: args.max_polls,
    };
    let http01 = match args.http01_listen {
        Some(addr) => Some(Http01::serve(addr).await?),
        None => None,
    };
    let mode = Mode {
        answer: args.answer_challenges || http01.is_some(),
        http01,
        pace,
    };
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.max_seconds);
    let ca = std::fs::read(&args.ca).with_context(|| format!("reading {}", args.ca.display()))?;
    let eab = match (&args.eab_kid, &args.eab_hmac) {
        (Some(kid), Some(h)) => Some((kid.clone(), acme::b64_decode(h).context("--eab-hmac")?)),
        _ => None,
    };

    // Setup: directory and accounts, bounded by the same deadline.
    let setup = async {
        let client = Client::connect(
            &args.directory,
            &ca,
            args.concurrency,
            Duration::from_secs(args.retry_secs),
        )
        .await?;
        let regs = (0..args.accounts).map(|_| {
            client.register(
                eab.as_ref()
                    .map(|(kid, hmac)| (kid.as_str(), hmac.as_slice())),
            )
        });
        let accounts = futures::future::try_join_all(regs)
            .await
            .context("registering accounts")?;
        anyhow::Ok((client, accounts))
    };
    let (client, accounts) = tokio::time::timeout_at(deadline, setup)
        .await
        .context("setup did not finish within --max-seconds")??;
    let setup_seconds = started.elapsed().as_secs_f64();

    let shared = Arc::new(Shared {
        client,
        accounts,
        next: AtomicUsize::new(0),
        args,
        suffix,
        mode,
        deadline,
    });
    let warmup = shared.args.warmup_orders;
    let warm = run_phase(&shared, warmup).await?;
    // Orders numbered from `warmup` on: their names differ from the warm-up's. Each worker of the
    // warm-up took one number past its end on the way out; they are taken again.
    shared.next.store(warmup, Ordering::SeqCst);
    let run_started = Instant::now();
    let mut total = run_phase(&shared, warmup + shared.args.orders).await?;
    let wall = run_started.elapsed().as_secs_f64();
    for (kind, (count, detail)) in warm.failures {
        let kind = format!("warm-up: {kind}");
        total.failures.entry(kind).or_insert((0, detail)).0 += count;
    }

    let args = &shared.args;
    let c = &shared.client;
    let failed: u64 = total.failures.values().map(|(n, _)| n).sum();
    let started_orders =
        total.completed + warm.completed + failed as usize + total.cut_off + warm.cut_off;
    let rate = if wall > 0.0 {
        total.completed as f64 / wall
    } else {
        0.0
    };
    let failures: serde_json::Map<String, Value> = total
        .failures
        .iter()
        .map(|(k, (n, d))| (k.clone(), json!({"count": n, "example": d})))
        .collect();
    let latency = total.samples.report();
    let report = json!({
        "directory": args.directory,
        "orders_requested": args.orders,
        "concurrency": args.concurrency,
        "accounts": args.accounts,
        "names_per_order": args.names_per_order,
        "run_tag": run_tag,
        "answer_challenges": shared.mode.answer,
        "http01_listen": args.http01_listen.map(|a| a.to_string()),
        "max_seconds": args.max_seconds,
        "warmup_orders": warmup,
        "warmup_completed": warm.completed,
        "completed": total.completed,
        "failed": failed,
        "cut_off_at_deadline": total.cut_off + warm.cut_off,
        "not_started": (warmup + args.orders).saturating_sub(started_orders),
        "setup_seconds": (setup_seconds * 1000.0).round() / 1000.0,
        "wall_seconds": (wall * 1000.0).round() / 1000.0,
        "orders_per_second": (rate * 100.0).round() / 100.0,
        "bad_nonce_retries": c.bad_nonce_retries.load(Ordering::Relaxed),
        "retry_secs": args.retry_secs,
        "connection_retries": c.connection_retries.load(Ordering::Relaxed),
        "unavailable_retries": c.unavailable_retries.load(Ordering::Relaxed),
        "server_errors_seen": c.server_errors.load(Ordering::Relaxed),
        "nonce_fetches": c.nonce_fetches.load(Ordering::Relaxed),
        "requests": c.requests.load(Ordering::Relaxed),
        "polls": total.samples.polls,
        "challenges_answered": total.samples.challenges_answered,
        "authz_polls": total.samples.authz_polls,
        "failures": failures,
        "latency_ms": latency,
    });
    let text = serde_json::to_string_pretty(&report)?;
    println!("{text}");
    if let Some(path) = &args.json_out {
        std::fs::write(path, format!("{text}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let o = &report["latency_ms"]["order"];
    eprintln!(
        "loadgen: {}/{} orders completed in {:.1} s = {:.2} orders/s at concurrency {}; {} failed, {} cut off; order latency p50 {} ms p90 {} ms p99 {} ms max {} ms; {} badNonce retries",
        total.completed,
        args.orders,
        wall,
        rate,
        args.concurrency,
        failed,
        total.cut_off,
        o["p50"],
        o["p90"],
        o["p99"],
        o["max"],
        report["bad_nonce_retries"],
    );
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
