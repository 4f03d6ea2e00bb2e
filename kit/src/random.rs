//! The one source of secret randomness (SMS codes, coupon codes, signing keys): the
//! operating system's, through `getrandom`. Identifiers use UUIDs instead (unique, not
//! secret).

/// 64 random bits from the operating system.
pub fn u64() -> u64 {
    // On the platforms we build for (Linux getrandom(2)) the call blocks until the pool is
    // seeded and does not fail afterwards; a failure means the process cannot make secrets
    // at all, and a guessable fallback would be worse than stopping.
    getrandom::u64().expect("the operating system's random source is available")
}

/// Fills `bytes` from the operating system (key material: the caller reports a failure).
pub fn fill(bytes: &mut [u8]) -> Result<(), getrandom::Error> {
    getrandom::fill(bytes)
}

/// A number in `0..bound` without modulo bias.
pub fn below(bound: u64) -> u64 {
    assert!(bound > 0, "a bound of zero has no numbers below it");
    // Reject the top partial range so every residue is equally likely.
    let zone = u64::MAX - (u64::MAX % bound);
    loop {
        let value = u64();
        if value < zone {
            return value % bound;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn below_stays_below_its_bound() {
        for _ in 0..1000 {
            assert!(super::below(1_000_000) < 1_000_000);
        }
        assert_eq!(super::below(1), 0);
    }
}
