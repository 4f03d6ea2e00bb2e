//! PT-1, PT-2: the double-entry ledger's vocabulary and the rules of a transfer.

use memberhub_kit::error::{Failure, Violations};
use memberhub_kit::input;

use super::ids::{ShopId, UserId};

/// PT-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Asset {
    Points,
    Beans,
    RedPacket,
    DataPack,
}

impl Asset {
    /// PT-2: beans, red packets and data packs are granted from a recharged budget.
    pub(crate) fn needs_budget(self) -> bool {
        self != Asset::Points
    }
}

memberhub_kit::db_enum!(pub Asset { Points => "POINTS", Beans => "BEANS", RedPacket => "RED_PACKET", DataPack => "DATA_PACK" });

/// PT-1: who holds a balance. System accounts may go negative and keep no balance row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Account {
    Member(UserId),
    ShopBudget,
    Reservation(uuid::Uuid),
    SystemIssuance,
    SystemExpiry,
}

impl Account {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Account::Member(_) => "MEMBER",
            Account::ShopBudget => "SHOP_BUDGET",
            Account::Reservation(_) => "RESERVATION",
            Account::SystemIssuance => "SYSTEM_ISSUANCE",
            Account::SystemExpiry => "SYSTEM_EXPIRY",
        }
    }

    pub(crate) fn owner(&self) -> String {
        match self {
            Account::Member(user) => user.as_str().to_string(),
            Account::Reservation(id) => id.to_string(),
            Account::ShopBudget | Account::SystemIssuance | Account::SystemExpiry => String::new(),
        }
    }

    pub(crate) fn is_system(&self) -> bool {
        matches!(self, Account::SystemIssuance | Account::SystemExpiry)
    }
}

/// The largest amount one transfer may move (10 billion yuan in fen), far below overflow.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;
/// PT-1: the longest transfer reason or budget reservation purpose, in characters.
pub(crate) const MAX_REASON_CHARS: usize = 200;

/// PT-1: a transfer asked for by a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TransferCommand {
    pub shop_id: ShopId,
    pub from: Account,
    pub to: Account,
    pub asset: Asset,
    pub amount: i64,
    pub reason: String,
}

impl TransferCommand {
    /// PT-1, PT-2: a positive amount between two different accounts; budget assets reach a
    /// member only from the budget or a reservation; expiry is not a caller's to make.
    pub(crate) fn validate(mut self) -> Result<Self, Failure> {
        let mut violations = Violations::new();
        if self.amount <= 0 {
            violations.add("amount", "must be positive");
        }
        if self.from == self.to {
            violations.add("to", "must differ from the source account");
        }
        let reason = violations.check(input::text("reason", &self.reason, MAX_REASON_CHARS));
        if self.amount > MAX_AMOUNT {
            violations.add("amount", format!("must be at most {MAX_AMOUNT}"));
        }
        for (account, field) in [(&self.from, "from"), (&self.to, "to")] {
            if *account == Account::SystemExpiry {
                violations.add(
                    format!("{field}.kind"),
                    "the expiry account is moved only by points expiry (PT-5)",
                );
            }
        }
        violations.finish()?;
        if self.asset.needs_budget()
            && self.from == Account::SystemIssuance
            && self.to != Account::ShopBudget
        {
            return Err(Failure::precondition(
                "BUDGET_REQUIRED",
                format!(
                    "{} must be recharged into the shop's budget before it is granted (PT-2)",
                    self.asset.as_db()
                ),
            ));
        }
        if !self.asset.needs_budget()
            && matches!(self.to, Account::ShopBudget | Account::Reservation(_))
        {
            return Err(Failure::precondition(
                "POINTS_NEED_NO_BUDGET",
                "points are the shop's own: they are issued, not budgeted",
            ));
        }
        self.reason = reason.ok_or(Failure::Internal)?;
        Ok(self)
    }
}

/// The failure when `account` lacks `amount`.
pub(crate) fn insufficient(account: &Account, asset: Asset) -> Failure {
    let (reason, what) = match account {
        Account::ShopBudget => ("BUDGET_EXHAUSTED", "the shop's budget"),
        Account::Reservation(_) => ("RESERVATION_EXHAUSTED", "the reservation"),
        _ => ("INSUFFICIENT_BALANCE", "the account"),
    };
    Failure::ResourceExhausted {
        reason,
        message: format!("{what} does not hold enough {}", asset.as_db()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(from: Account, to: Account, asset: Asset, amount: i64) -> TransferCommand {
        TransferCommand {
            shop_id: ShopId::new(),
            from,
            to,
            asset,
            amount,
            reason: "test".into(),
        }
    }

    #[test]
    fn pt2_budget_assets_are_granted_only_from_budget() {
        let member = Account::Member(UserId::parse("u", "u1").expect("valid"));
        assert!(
            cmd(Account::SystemIssuance, member.clone(), Asset::Beans, 5)
                .validate()
                .is_err()
        );
        assert!(
            cmd(
                Account::SystemIssuance,
                Account::ShopBudget,
                Asset::Beans,
                5
            )
            .validate()
            .is_ok()
        );
        assert!(
            cmd(Account::ShopBudget, member.clone(), Asset::Beans, 5)
                .validate()
                .is_ok()
        );
        assert!(
            cmd(Account::SystemIssuance, member.clone(), Asset::Points, 5)
                .validate()
                .is_ok()
        );
        assert!(
            cmd(Account::SystemIssuance, member, Asset::Points, 0)
                .validate()
                .is_err()
        );
    }
}
