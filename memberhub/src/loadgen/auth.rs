//! `memberhub loadgen auth`: what X-1's internal tokens cost per RPC. Signs and verifies
//! `--tokens` distinct actors' tokens (the worst case: every call a new actor, as a storefront
//! peak of distinct shoppers), then the same tokens again (the steady state: the signer and
//! the verifier remember them), against the baseline of doing nothing but formatting the
//! actor (what the plain header cost).

use std::time::Instant;

use memberhub_kit::actor::Actor;
use memberhub_kit::auth::{GATEWAY, Signer, Verifier};

#[derive(Debug, clap::Args)]
pub(crate) struct AuthArgs {
    /// Distinct actors.
    #[arg(long, default_value_t = 20_000)]
    pub tokens: usize,
}

fn per_op_us(started: Instant, n: usize) -> f64 {
    super::round2(started.elapsed().as_secs_f64() * 1e6 / n as f64)
}

pub(crate) async fn run(args: AuthArgs) -> anyhow::Result<()> {
    let n = args.tokens.max(1);
    let signer = Signer::development(GATEWAY);
    let verifier = Verifier::development();
    let actors: Vec<Actor> = (0..n)
        .map(|i| Actor::Shopper {
            user_id: format!("shopper-{i}"),
        })
        .collect();

    let started = Instant::now();
    let plain: usize = actors.iter().map(|a| a.to_string().len()).sum();
    let baseline_us = per_op_us(started, n);

    let started = Instant::now();
    let tokens = actors
        .iter()
        .map(|a| signer.token(a))
        .collect::<Result<Vec<_>, _>>()?;
    let sign_us = per_op_us(started, n);
    let started = Instant::now();
    for token in &tokens {
        verifier.verify(token)?;
    }
    let verify_us = per_op_us(started, n);

    let started = Instant::now();
    for actor in &actors {
        signer.token(actor)?;
    }
    let sign_cached_us = per_op_us(started, n);
    let started = Instant::now();
    for token in &tokens {
        verifier.verify(token)?;
    }
    let verify_cached_us = per_op_us(started, n);

    println!(
        "auth: per call, {n} distinct actors: sign {sign_us} us, verify {verify_us} us; remembered: sign {sign_cached_us} us, verify {verify_cached_us} us; formatting the plain actor {baseline_us} us ({plain} bytes)"
    );
    super::print_json_line(&serde_json::json!({
        "bench": "auth",
        "tokens": n,
        "sign_us": sign_us,
        "verify_us": verify_us,
        "sign_cached_us": sign_cached_us,
        "verify_cached_us": verify_cached_us,
        "baseline_plain_actor_us": baseline_us,
    }));
    Ok(())
}
