//! MP-4, MB-2, MB-3, MB-5: the storefront flows on one shopper's row: SMS code, open card,
//! quit, follow. Each runs in the caller's transaction and writes its outbox events there.

use chrono::{DateTime, Utc};
use memberhub_kit::error::Failure;
use sqlx::PgConnection;

use super::{levels, members, outbox, programs, sms as sms_store};
use crate::domain::events::NewEvent;
use crate::domain::ids::{ShopId, UserId};
use crate::domain::members::{CardOpening, Member, MemberState, Profile, Source, Transition};
use crate::domain::sms::{self, HashKey, Phone, SentCode};
use crate::error::Error;

/// MB-2: a card opening as asked for.
#[derive(Debug, Clone)]
pub(crate) struct OpenCard {
    pub shop_id: ShopId,
    pub user_id: UserId,
    pub phone: Option<Phone>,
    pub code: Option<String>,
    pub source: Source,
    pub profile: Profile,
}

/// MP-4: sends a fresh code when the shop verifies card openings by SMS.
#[tracing::instrument(skip_all, fields(shop_id = %shop_id))]
pub(crate) async fn send_code(
    conn: &mut PgConnection,
    key: &HashKey,
    sender: &dyn sms_store::SmsSender,
    shop_id: ShopId,
    user_id: &UserId,
    phone: &Phone,
    now: DateTime<Utc>,
) -> Result<SentCode, Error> {
    let program = programs::get(conn, shop_id).await?;
    if !program.sms_verification_enabled {
        return Err(Error::Rejected(Failure::precondition(
            "SMS_VERIFICATION_DISABLED",
            "this shop does not verify card openings by SMS: open the card without a code",
        )));
    }
    if !program.join_policy.allows_card_opening() {
        return Err(Error::Rejected(Failure::precondition(
            "CARD_JOIN_DISABLED",
            "this shop admits members by ordering only: no card can be opened, so no code is sent",
        )));
    }
    // The shopper's row serialises their sends, so two at once cannot both pass the gap.
    members::lock(conn, shop_id, user_id, now).await?;
    let last = sms_store::lock_code(conn, shop_id, user_id).await?;
    sms::check_resend(last.as_ref(), now)?;
    let code = sms::new_code();
    let sent = sms_store::new_sent_code(key, shop_id, user_id, phone, &code, now);
    sms_store::store_code(conn, shop_id, user_id, &sent).await?;
    sender
        .send(
            conn,
            shop_id,
            phone,
            &sms::VerificationSms {
                card_name: program.card_face.card_name.clone(),
                code,
            },
            now,
        )
        .await?;
    Ok(sent)
}

/// MP-4: a wrong code is counted (and refused) before the opening's transaction, in its
/// own commit, so the count survives the refusal and concurrent guesses cannot pass five.
pub(crate) async fn count_wrong_code(
    pool: &sqlx::PgPool,
    key: &HashKey,
    cmd: &OpenCard,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let (Some(phone), Some(code)) = (&cmd.phone, &cmd.code) else {
        return Ok(());
    };
    let code_hash = key.code(&cmd.shop_id.to_string(), cmd.user_id.as_str(), code);
    if sms_store::count_wrong_code(
        pool,
        cmd.shop_id,
        &cmd.user_id,
        &key.phone(phone),
        &code_hash,
        now,
    )
    .await?
    {
        return Err(Error::SmsCode(sms::CodeRejection::Wrong));
    }
    Ok(())
}

/// MB-2 (with MP-4's code when the shop requires it).
#[tracing::instrument(skip_all, fields(shop_id = %cmd.shop_id))]
pub(crate) async fn open_card(
    conn: &mut PgConnection,
    key: &HashKey,
    cmd: OpenCard,
    now: DateTime<Utc>,
) -> Result<Member, Error> {
    let program = programs::get(conn, cmd.shop_id).await?;
    let phone = cmd
        .phone
        .ok_or_else(|| Failure::invalid("phone", "a phone number is required to open the card"))?;
    let mut member = members::lock(conn, cmd.shop_id, &cmd.user_id, now).await?;
    let phone_hash = key.phone(&phone);
    if program.sms_verification_enabled {
        let code = cmd.code.ok_or_else(|| {
            Failure::invalid(
                "sms_code",
                "this shop requires the SMS code sent to the phone",
            )
        })?;
        let sent = sms_store::lock_code(conn, cmd.shop_id, &cmd.user_id).await?;
        let code_hash = key.code(&cmd.shop_id.to_string(), cmd.user_id.as_str(), &code);
        sms::verify(sent.as_ref(), &phone_hash, &code_hash, now).map_err(Error::SmsCode)?;
    }
    let ladder = levels::get(conn, cmd.shop_id).await?.ladder();
    let card = CardOpening {
        phone_hash: Some(phone_hash),
        source: cmd.source,
        profile: cmd.profile,
    };
    let transitions = member.open_card(program.join_policy, card, &ladder, now)?;
    if program.sms_verification_enabled {
        sms_store::consume_code(conn, cmd.shop_id, &cmd.user_id, now).await?;
    }
    members::save(conn, &member, now).await?;
    if member.state == MemberState::Active {
        // A new period, or the card opened within the current one.
        members::insert_periods(conn, &[&member]).await?;
    }
    publish(conn, &member, transitions, now).await?;
    Ok(member)
}

/// MB-3: the shopper leaves; history is kept.
#[tracing::instrument(skip_all, fields(shop_id = %shop_id))]
pub(crate) async fn quit(
    conn: &mut PgConnection,
    shop_id: ShopId,
    user_id: &UserId,
    now: DateTime<Utc>,
) -> Result<Member, Error> {
    programs::get(conn, shop_id).await?;
    let mut member = members::lock(conn, shop_id, user_id, now).await?;
    let was_active = member.state == MemberState::Active;
    let transitions = member.quit()?;
    members::save(conn, &member, now).await?;
    if let (true, Some(period)) = (was_active, member.membership_id) {
        members::close_period(conn, period, now).await?;
    }
    publish(conn, &member, transitions, now).await?;
    Ok(member)
}

/// MB-5: follow or unfollow the shop.
#[tracing::instrument(skip_all, fields(shop_id = %shop_id, follow))]
pub(crate) async fn set_following(
    conn: &mut PgConnection,
    shop_id: ShopId,
    user_id: &UserId,
    follow: bool,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    programs::get(conn, shop_id).await?;
    let mut member = members::lock(conn, shop_id, user_id, now).await?;
    member.following = follow;
    members::save(conn, &member, now).await?;
    Ok(follow)
}

async fn publish(
    conn: &mut PgConnection,
    member: &Member,
    transitions: Vec<Transition>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let events: Vec<NewEvent> = transitions
        .into_iter()
        .map(|t| NewEvent::from_transition(member, t, now))
        .collect();
    outbox::append(conn, &events).await
}
