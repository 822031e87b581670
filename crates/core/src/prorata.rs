//! Sharing what a pool holds among those entitled to it (issue 18): when a pool holds less than
//! its clients are owed, each client gets its entitlement × holdings / entitlements, rounded
//! down in the asset's smallest unit, and the units those roundings leave go one each to the
//! clients with the largest remainders (the largest-remainder rule; equal remainders in the
//! order the clients are given, which callers make their id order). Exact integer arithmetic:
//! the product of two u128 is held in 256 bits. A pool that holds enough gives each client its
//! entitlement.

/// Each entitlement's share of `holdings`, in the order given: they sum to `holdings` when it
/// is less than the entitlements' total (else each share is its entitlement), and no share
/// exceeds its entitlement. `None` when the entitlements' total does not fit a u128.
pub fn shares(holdings: u128, entitlements: &[u128]) -> Option<Vec<u128>> {
    let total = entitlements.iter().try_fold(0u128, |sum, e| sum.checked_add(*e))?;
    if holdings >= total {
        return Some(entitlements.to_vec());
    }
    // holdings < total, so every quotient is below its entitlement and fits.
    let mut shares = Vec::with_capacity(entitlements.len());
    let mut remainders = Vec::with_capacity(entitlements.len());
    let mut given = 0u128;
    for (index, entitlement) in entitlements.iter().enumerate() {
        let (quotient, remainder) = mul_div(*entitlement, holdings, total);
        shares.push(quotient);
        remainders.push((remainder, index));
        given += quotient;
    }
    // Fewer units are left than there are clients: each floor lost less than one.
    let left = holdings - given;
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, index) in remainders.iter().take(usize::try_from(left).unwrap_or(usize::MAX)) {
        shares[index] += 1;
    }
    Some(shares)
}

/// `part` of `whole` (at most it) as a percentage with six decimals, rounded down: `90.000000`;
/// `-` for a whole of 0.
pub fn percent(part: u128, whole: u128) -> String {
    if whole == 0 {
        return "-".into();
    }
    let (hundred_millionths, _) = mul_div(part.min(whole), 100_000_000, whole);
    format!("{}.{:06}", hundred_millionths / 1_000_000, hundred_millionths % 1_000_000)
}

/// `a × b / d` and its remainder, for `d > 0` and a quotient that fits a u128 (`a × b < d ×
/// 2^128`).
fn mul_div(a: u128, b: u128, d: u128) -> (u128, u128) {
    let (high, low) = wide_mul(a, b);
    // Long division of the 256-bit (high, low) by d, a bit at a time, from the top.
    let (mut quotient, mut remainder) = (0u128, 0u128);
    for bit in (0..256).rev() {
        let next = if bit >= 128 { (high >> (bit - 128)) & 1 } else { (low >> bit) & 1 };
        let carry = remainder >> 127;
        remainder = (remainder << 1) | next;
        if carry == 1 || remainder >= d {
            remainder = remainder.wrapping_sub(d);
            if bit < 128 {
                quotient |= 1 << bit;
            }
        }
    }
    (quotient, remainder)
}

/// The 256-bit product of two u128, as (high, low) halves.
fn wide_mul(a: u128, b: u128) -> (u128, u128) {
    let mask = u128::from(u64::MAX);
    let (a_high, a_low, b_high, b_low) = (a >> 64, a & mask, b >> 64, b & mask);
    let low_low = a_low * b_low;
    let high_low = a_high * b_low;
    let low_high = a_low * b_high;
    let high_high = a_high * b_high;
    let middle = (low_low >> 64) + (high_low & mask) + (low_high & mask);
    let low = (low_low & mask) | (middle << 64);
    let high = high_high + (high_low >> 64) + (low_high >> 64) + (middle >> 64);
    (high, low)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ETH: u128 = 1_000_000_000_000_000_000;

    #[test]
    fn a_pool_holding_ninety_percent_gives_each_client_exactly_ninety_percent() {
        // 100 ETH owed to three clients, 90 ETH held.
        let owed = [50 * ETH, 30 * ETH, 20 * ETH];
        assert_eq!(shares(90 * ETH, &owed), Some(vec![45 * ETH, 27 * ETH, 18 * ETH]));
        // Held in full or more: each its entitlement.
        assert_eq!(shares(100 * ETH, &owed), Some(owed.to_vec()));
        assert_eq!(shares(101 * ETH, &owed), Some(owed.to_vec()));
        assert_eq!(shares(0, &owed), Some(vec![0, 0, 0]));
    }

    #[test]
    fn the_units_left_by_rounding_go_to_the_largest_remainders_then_in_order() {
        // 10 units among three equal claims of 1: 3.33… each; one unit left, to the first.
        assert_eq!(shares(10, &[5, 5, 5]), Some(vec![4, 3, 3]));
        // 2 units among 1, 1, 1: two left after flooring to 0, to the first two.
        assert_eq!(shares(2, &[1, 1, 1]), Some(vec![1, 1, 0]));
        // Remainders 0.4, 0.6 (×5): the larger one gets the unit.
        assert_eq!(shares(3, &[2, 3]), Some(vec![1, 2]));
        assert_eq!(shares(5, &[]), Some(vec![]));
        assert_eq!(shares(1, &[u128::MAX, 1]), None, "a total that does not fit");
        assert_eq!(
            (percent(9, 10), percent(2, 3), percent(0, 0), percent(u128::MAX, u128::MAX)),
            ("90.000000".to_owned(), "66.666666".to_owned(), "-".to_owned(), "100.000000".to_owned())
        );
    }

    #[test]
    fn the_wide_product_and_division_are_exact_at_the_extremes() {
        assert_eq!(wide_mul(u128::MAX, u128::MAX), (u128::MAX - 1, 1));
        assert_eq!(mul_div(u128::MAX, u128::MAX - 1, u128::MAX), (u128::MAX - 1, 0));
        assert_eq!(mul_div(u128::MAX, 3, 7), ((u128::MAX / 7) * 3 + (u128::MAX % 7) * 3 / 7, (u128::MAX % 7) * 3 % 7));
        let shared = shares(u128::MAX - 1, &[u128::MAX / 2, u128::MAX / 2 + 1]).unwrap();
        assert_eq!(shared.iter().sum::<u128>(), u128::MAX - 1);
    }

    proptest! {
        #[test]
        fn shares_sum_to_the_holdings_and_none_exceeds_its_entitlement(
            owed in prop::collection::vec(0u128..(1u128 << 100), 0..40),
            fraction in 0u128..=1_000_000,
        ) {
            let total: u128 = owed.iter().sum();
            let holdings = total / 1_000_000 * fraction;
            let shared = shares(holdings, &owed).unwrap();
            prop_assert_eq!(shared.iter().sum::<u128>(), holdings.min(total));
            for (share, entitlement) in shared.iter().zip(&owed) {
                prop_assert!(share <= entitlement);
                // Within one unit of the exact pro-rata share.
                if total > 0 {
                    let (exact, _) = mul_div(*entitlement, holdings.min(total), total);
                    prop_assert!(*share == exact || *share == exact + 1);
                }
            }
        }
    }
}
