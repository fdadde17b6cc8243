//! Allocating a payment to invoices, oldest first (PAY-03).
//!
//! A payment pays the invoices it was made for, in order of due date (then
//! invoice id): each gets what it still has outstanding until the money
//! runs out, so a partial payment settles the oldest invoices in full and
//! leaves the youngest partly open. What is left after every invoice is paid
//! is returned as unallocated (a credit on the account).

use chrono::NaiveDate;

/// An invoice that can take money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outstanding {
    /// The invoice's id.
    pub invoice_id: i64,
    /// Its due date.
    pub due_date: NaiveDate,
    /// What it still has open, in cents (not positive: nothing to take).
    pub open_cents: i64,
}

/// The outcome: cents per invoice (oldest first) and what was left over.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allocation {
    /// `(invoice id, cents)` for every invoice that received money.
    pub parts: Vec<(i64, i64)>,
    /// Cents that no invoice needed.
    pub unallocated_cents: i64,
}

/// Allocates `amount_cents` (not negative) to `invoices`, oldest first.
pub fn oldest_first(amount_cents: i64, invoices: &[Outstanding]) -> Allocation {
    let mut sorted: Vec<&Outstanding> = invoices.iter().filter(|i| i.open_cents > 0).collect();
    sorted.sort_by_key(|i| (i.due_date, i.invoice_id));
    let mut left = amount_cents.max(0);
    let mut parts = Vec::new();
    for invoice in sorted {
        if left == 0 {
            break;
        }
        let take = invoice.open_cents.min(left);
        parts.push((invoice.invoice_id, take));
        left -= take;
    }
    Allocation {
        parts,
        unallocated_cents: left,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, d).unwrap()
    }

    // PAY-03: a partial payment settles the oldest invoices first.
    #[test]
    fn partial_payment_goes_to_the_oldest_first() {
        let invoices = [
            Outstanding {
                invoice_id: 3,
                due_date: day(20),
                open_cents: 500,
            },
            Outstanding {
                invoice_id: 1,
                due_date: day(5),
                open_cents: 300,
            },
            Outstanding {
                invoice_id: 2,
                due_date: day(5),
                open_cents: 400,
            },
        ];
        let a = oldest_first(900, &invoices);
        assert_eq!(a.parts, vec![(1, 300), (2, 400), (3, 200)]);
        assert_eq!(a.unallocated_cents, 0);
        let more = oldest_first(1500, &invoices);
        assert_eq!(more.parts, vec![(1, 300), (2, 400), (3, 500)]);
        assert_eq!(more.unallocated_cents, 300);
        assert_eq!(oldest_first(0, &invoices), Allocation::default());
    }

    proptest! {
        // PAY-03: nothing is lost or invented; no invoice gets more than it has open.
        #[test]
        fn allocation_conserves_money(amount in 0i64..1_000_000, opens in proptest::collection::vec((1u32..28, -100i64..100_000), 0..12)) {
            let invoices: Vec<Outstanding> = opens.iter().enumerate().map(|(i, (d, open))| Outstanding {
                invoice_id: i as i64, due_date: day(*d), open_cents: *open,
            }).collect();
            let a = oldest_first(amount, &invoices);
            let allocated: i64 = a.parts.iter().map(|p| p.1).sum();
            prop_assert_eq!(allocated + a.unallocated_cents, amount);
            for (id, cents) in &a.parts {
                let inv = invoices.iter().find(|i| i.invoice_id == *id).unwrap();
                prop_assert!(*cents > 0 && *cents <= inv.open_cents);
            }
            // Every invoice but the last that received money is paid in full.
            for (id, cents) in a.parts.iter().take(a.parts.len().saturating_sub(1)) {
                let inv = invoices.iter().find(|i| i.invoice_id == *id).unwrap();
                prop_assert_eq!(*cents, inv.open_cents);
            }
        }
    }
}
