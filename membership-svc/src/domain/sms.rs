//! MP-4: card-opening SMS codes and the protected phone number (MB-1).
//!
//! Phones and codes are stored only as keyed hashes (HMAC-SHA256 with the service's
//! secret), so a database dump reveals neither.

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use memberhub_kit::error::{Failure, FieldViolation};
use sha2::Sha256;

/// MP-4: a code is valid this long.
pub(crate) const CODE_VALIDITY: Duration = Duration::minutes(5);
/// MP-4: no resend sooner than this.
pub(crate) const RESEND_GAP: Duration = Duration::seconds(60);
/// MP-4: at most this many wrong tries per code.
pub(crate) const MAX_WRONG_TRIES: i32 = 5;

/// A mainland mobile number: 11 digits starting with 1 (an optional +86 is dropped).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Phone(String);

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the number.
        f.write_str(&self.masked())
    }
}

impl Phone {
    pub(crate) fn parse(field: &str, raw: &str) -> Result<Self, FieldViolation> {
        let digits: String = raw
            .trim()
            .trim_start_matches("+86")
            .chars()
            .filter(|c| *c != ' ' && *c != '-')
            .collect();
        let valid = digits.len() == 11
            && digits.starts_with('1')
            && digits.chars().all(|c| c.is_ascii_digit());
        if valid {
            Ok(Self(digits))
        } else {
            Err(FieldViolation::new(
                field,
                "must be an 11-digit mobile number starting with 1",
            ))
        }
    }

    /// `138****5678`: what a message log may show.
    pub(crate) fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// The service's secret for keyed hashes of phones and codes.
#[derive(Clone)]
pub(crate) struct HashKey(Vec<u8>);

impl std::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashKey(..)")
    }
}

impl HashKey {
    pub(crate) fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self(secret.into())
    }

    fn mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }

    /// MB-1: the protected phone: the same number always hashes alike (so it can be matched).
    pub(crate) fn phone(&self, phone: &Phone) -> Vec<u8> {
        self.mac(&[b"phone", phone.as_str().as_bytes()])
    }

    /// MP-4: a code hashed together with whom it was sent to.
    pub(crate) fn code(&self, shop_id: &str, user_id: &str, code: &str) -> Vec<u8> {
        self.mac(&[
            b"sms-code",
            shop_id.as_bytes(),
            user_id.as_bytes(),
            code.as_bytes(),
        ])
    }
}

/// A fresh 6-digit code from the OS's random source.
pub(crate) fn new_code() -> String {
    format!("{:06}", memberhub_kit::random::below(1_000_000))
}

/// MP-4: the verification message sent to the shopper.
#[derive(Debug, Clone)]
pub(crate) struct VerificationSms {
    pub card_name: String,
    pub code: String,
}

impl VerificationSms {
    /// The text the shopper receives.
    pub(crate) fn text(&self) -> String {
        Self::with_code(&self.card_name, &self.code)
    }

    /// The text with the code masked: what may be kept once the message is sent.
    pub(crate) fn redacted(&self) -> String {
        Self::with_code(&self.card_name, "******")
    }

    fn with_code(card_name: &str, code: &str) -> String {
        format!(
            "【{card_name}】Your member card verification code is {code}. It is valid for 5 minutes."
        )
    }
}

/// A code as the shopper typed it: exactly 6 digits.
pub(crate) fn parse_code(field: &str, raw: &str) -> Result<String, FieldViolation> {
    let code = raw.trim();
    if code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()) {
        Ok(code.to_string())
    } else {
        Err(FieldViolation::new(
            field,
            "must be the 6-digit code sent by SMS",
        ))
    }
}

/// The code last sent to a shopper for a shop.
#[derive(Debug, Clone)]
pub(crate) struct SentCode {
    pub phone_hash: Vec<u8>,
    pub code_hash: Vec<u8>,
    pub sent_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub failed_attempts: i32,
    pub consumed: bool,
}

/// MP-4: a resend is allowed 60 s after the last send.
pub(crate) fn check_resend(last: Option<&SentCode>, now: DateTime<Utc>) -> Result<(), Failure> {
    match last {
        Some(last) if now < last.sent_at + RESEND_GAP => Err(Failure::FailedPrecondition {
            reason: "SMS_RESEND_TOO_SOON",
            message: "a code was sent less than 60 seconds ago".into(),
            metadata: vec![(
                "resend_allowed_at",
                (last.sent_at + RESEND_GAP).to_rfc3339(),
            )],
        }),
        _ => Ok(()),
    }
}

/// Why a code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRejection {
    NotSent,
    Expired,
    TooManyTries,
    /// Counts as one wrong try.
    Wrong,
}

impl CodeRejection {
    pub fn failure(self) -> Failure {
        let (reason, message) = match self {
            CodeRejection::NotSent => (
                "SMS_CODE_NOT_SENT",
                "no code was sent to this phone: request one first",
            ),
            CodeRejection::Expired => (
                "SMS_CODE_EXPIRED",
                "the code has expired or was used: request a new one",
            ),
            CodeRejection::TooManyTries => (
                "SMS_CODE_TOO_MANY_TRIES",
                "too many wrong codes: request a new one",
            ),
            CodeRejection::Wrong => ("SMS_CODE_WRONG", "the code is wrong"),
        };
        Failure::precondition(reason, message)
    }
}

/// MP-4: is `code_hash` for `phone_hash` the valid code of `sent`?
pub(crate) fn verify(
    sent: Option<&SentCode>,
    phone_hash: &[u8],
    code_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<(), CodeRejection> {
    let sent = sent
        .filter(|s| s.phone_hash == phone_hash)
        .ok_or(CodeRejection::NotSent)?;
    if sent.consumed || now >= sent.expires_at {
        return Err(CodeRejection::Expired);
    }
    if sent.failed_attempts >= MAX_WRONG_TRIES {
        return Err(CodeRejection::TooManyTries);
    }
    if sent.code_hash != code_hash {
        return Err(CodeRejection::Wrong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(key: &HashKey, phone: &Phone, code: &str, at: DateTime<Utc>) -> SentCode {
        SentCode {
            phone_hash: key.phone(phone),
            code_hash: key.code("s", "u", code),
            sent_at: at,
            expires_at: at + CODE_VALIDITY,
            failed_attempts: 0,
            consumed: false,
        }
    }

    #[test]
    fn mp4_code_is_six_digits_and_phone_is_masked() {
        for _ in 0..100 {
            let code = new_code();
            assert!(parse_code("c", &code).is_ok(), "{code}");
        }
        let phone = Phone::parse("phone", "+86 138-0013-5678").expect("valid");
        assert_eq!(phone.masked(), "138****5678");
        assert_eq!(format!("{phone:?}"), "138****5678");
        assert!(Phone::parse("phone", "12345").is_err());
    }

    #[test]
    fn mp4_code_valid_five_minutes_five_tries_resend_after_sixty_seconds() {
        let key = HashKey::new(b"k".to_vec());
        let phone = Phone::parse("p", "13800135678").expect("valid");
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let mut s = sent(&key, &phone, "123456", t0);
        let (ph, good, bad) = (
            key.phone(&phone),
            key.code("s", "u", "123456"),
            key.code("s", "u", "000000"),
        );
        assert_eq!(
            verify(Some(&s), &ph, &good, t0 + Duration::seconds(299)),
            Ok(())
        );
        assert_eq!(
            verify(Some(&s), &ph, &good, t0 + CODE_VALIDITY),
            Err(CodeRejection::Expired)
        );
        assert_eq!(verify(Some(&s), &ph, &bad, t0), Err(CodeRejection::Wrong));
        s.failed_attempts = MAX_WRONG_TRIES;
        assert_eq!(
            verify(Some(&s), &ph, &good, t0),
            Err(CodeRejection::TooManyTries)
        );
        let other = key.phone(&Phone::parse("p", "13900135678").expect("valid"));
        assert_eq!(
            verify(Some(&s), &other, &good, t0),
            Err(CodeRejection::NotSent)
        );
        assert!(check_resend(Some(&s), t0 + Duration::seconds(59)).is_err());
        assert!(check_resend(Some(&s), t0 + RESEND_GAP).is_ok());
    }
}
