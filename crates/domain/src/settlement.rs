//! Early settlement of a financing contract (SRV-05): what a customer pays
//! to repay a consumer credit or a financial lease in full on a given date,
//! with every step of the calculation kept so the quote can show it.
//!
//! The quote on the settlement date `D`:
//!
//! 1. **Remaining principal**: the debt left after the last instalment due
//!    on or before `D` ([`crate::finance::remaining_on`]); a balloon or
//!    residual value not yet due is part of it.
//! 2. **Accrued interest**: the remaining principal × the nominal yearly
//!    rate × the actual days from that instalment's due date (the start
//!    date when none is due yet) to `D`, ÷ 365; rounded to the cent half
//!    away from zero, in integer arithmetic.
//! 3. **Unpaid invoices**: whatever the customer still owes on invoices
//!    already due (passed in; the caller reads them from the ledger).
//! 4. **Compensation** for the early repayment:
//!    * consumer credit — the statutory cap of the Consumer Credit Directive
//!      (2008/48/EC, Art. 16(2)): at most [`CONSUMER_CREDIT_CAP_BP`] (1 %)
//!      of the principal repaid early when more than a year remains between
//!      `D` and the agreed end, at most [`CONSUMER_CREDIT_SHORT_CAP_BP`]
//!      (0.5 %) when a year or less remains, and never more than the
//!      interest the customer would have paid between `D` and the agreed
//!      end ([`Quote::remaining_interest`]). carfin charges the cap itself;
//!    * financial lease — the contractual compensation of
//!      [`FINANCIAL_LEASE_COMPENSATION_BP`] (2 %) of the principal repaid
//!      early, as the lease agreement provides; no statutory cap applies.
//! 5. **Total** = remaining principal + accrued interest + unpaid invoices +
//!    compensation.
//!
//! "The interest the customer would have paid between `D` and the end" is
//! the interest part of every schedule line due after `D`, less the
//! interest accrued up to `D` (which the settlement charges already), and
//! never below zero.
//!
//! No floating point: amounts are integer cents, rates basis points.

use crate::finance::{amortization_schedule, due_date, remaining_on, ScheduleLine};
use crate::money::div_round_half_away;
use crate::Money;
use chrono::{Months, NaiveDate};

/// The statutory cap on compensation for early repayment of a consumer
/// credit when more than a year of the agreement remains: 1 % of the
/// amount repaid early (Directive 2008/48/EC, Art. 16(2); NL: art. 7:68
/// BW; BE: art. VII.97 WER/CDE).
pub const CONSUMER_CREDIT_CAP_BP: u32 = 100;
/// The statutory cap when a year or less remains: 0.5 %.
pub const CONSUMER_CREDIT_SHORT_CAP_BP: u32 = 50;
/// "A year": with this many months or fewer between the settlement date
/// and the agreed end, the lower cap applies.
pub const SHORT_REMAINING_MONTHS: u32 = 12;
/// The contractual compensation for early settlement of a financial lease:
/// 2 % of the principal repaid early (carfin's lease conditions; business
/// and private financial leases alike).
pub const FINANCIAL_LEASE_COMPENSATION_BP: u32 = 200;
/// Accrued interest counts actual days over a 365-day year.
pub const DAYS_PER_YEAR: i64 = 365;

/// Which kind of financing is settled (an operational lease has no debt
/// and no settlement quote).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Financing {
    /// Consumer credit (instalment credit, hire purchase): statutory cap.
    ConsumerCredit,
    /// Financial lease: contractual compensation.
    FinancialLease,
}

/// How the compensation was determined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compensation {
    /// Consumer credit: the statutory cap at `rate_bp` of the principal
    /// repaid, limited to the interest still to come.
    StatutoryCap {
        /// [`CONSUMER_CREDIT_CAP_BP`] or [`CONSUMER_CREDIT_SHORT_CAP_BP`].
        rate_bp: u32,
        /// Whether the interest still to come was lower and set the amount.
        limited_by_interest: bool,
    },
    /// Financial lease: the contractual rate of the principal repaid.
    Contractual {
        /// [`FINANCIAL_LEASE_COMPENSATION_BP`].
        rate_bp: u32,
    },
}

impl Compensation {
    /// The rate applied to the principal repaid, in basis points.
    pub fn rate_bp(self) -> u32 {
        match self {
            Compensation::StatutoryCap { rate_bp, .. } | Compensation::Contractual { rate_bp } => {
                rate_bp
            }
        }
    }
}

/// The agreed terms the quote is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    /// Consumer credit or financial lease.
    pub financing: Financing,
    /// The financed principal.
    pub principal: Money,
    /// The balloon or residual value, due with the last instalment.
    pub balloon: Money,
    /// The nominal yearly rate in basis points.
    pub nominal_rate_bp: u32,
    /// The term in months.
    pub months: u32,
    /// The agreed monthly instalment.
    pub instalment: Money,
    /// The start date: month 1 falls due on it.
    pub start: NaiveDate,
    /// The agreed end date.
    pub end: NaiveDate,
}

impl Terms {
    /// The repayment schedule of these terms.
    pub fn schedule(&self) -> Option<Vec<ScheduleLine>> {
        amortization_schedule(
            self.principal,
            self.balloon,
            self.nominal_rate_bp,
            self.months,
            self.instalment,
        )
    }
}

/// An early-settlement quote with every step of its calculation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// The date the amount is due on; the quote is valid until then.
    pub settlement_date: NaiveDate,
    /// The last schedule line due on or before the settlement date (month
    /// from 1, due date), if any.
    pub last_instalment: Option<(u32, NaiveDate)>,
    /// The debt after that instalment.
    pub remaining_principal: Money,
    /// Interest runs from this date (the last instalment's due date, or the
    /// start date)…
    pub accrued_from: NaiveDate,
    /// …for this many days to the settlement date.
    pub accrued_days: i64,
    /// remaining principal × rate × days / 365.
    pub accrued_interest: Money,
    /// Owed on invoices already due.
    pub unpaid_invoices: Money,
    /// Whether more than [`SHORT_REMAINING_MONTHS`] months remain between
    /// the settlement date and the agreed end.
    pub more_than_a_year_left: bool,
    /// The interest the customer would still have paid from the settlement
    /// date to the agreed end (schedule interest due after the settlement
    /// date, less the accrued interest; at least zero).
    pub remaining_interest: Money,
    /// The rate applied to the remaining principal, before any limit.
    pub compensation_at_rate: Money,
    /// The compensation charged.
    pub compensation: Money,
    /// How the compensation was determined.
    pub rule: Compensation,
    /// What the customer pays: principal + accrued interest + unpaid
    /// invoices + compensation.
    pub total: Money,
}

/// `amount × bp / 10 000`, rounded half away from zero.
pub fn percentage(amount: Money, bp: u32) -> Option<Money> {
    Money::from_i128(div_round_half_away(
        i128::from(amount.cents()).checked_mul(i128::from(bp))?,
        10_000,
    )?)
}

/// `principal × rate_bp × days / (10 000 × 365)`, rounded half away from zero.
pub fn accrued_interest(principal: Money, nominal_rate_bp: u32, days: i64) -> Option<Money> {
    let numerator = i128::from(principal.cents())
        .checked_mul(i128::from(nominal_rate_bp))?
        .checked_mul(i128::from(days))?;
    Money::from_i128(div_round_half_away(
        numerator,
        10_000 * i128::from(DAYS_PER_YEAR),
    )?)
}

/// The early-settlement quote for `terms` on `settlement_date`, with
/// `unpaid_invoices` still owed. `None` for a settlement date before the
/// start, terms without a valid schedule, or overflow.
pub fn quote(terms: &Terms, settlement_date: NaiveDate, unpaid_invoices: Money) -> Option<Quote> {
    if settlement_date < terms.start {
        return None;
    }
    let schedule = terms.schedule()?;
    let last = schedule
        .iter()
        .map(|line| Some((line.month, due_date(terms.start, line.month)?)))
        .take_while(|due| due.is_some_and(|(_, date)| date <= settlement_date))
        .last()
        .flatten();
    let remaining_principal =
        remaining_on(terms.principal, terms.start, &schedule, settlement_date);
    let accrued_from = last.map_or(terms.start, |(_, date)| date);
    let accrued_days = (settlement_date - accrued_from).num_days();
    let accrued = accrued_interest(remaining_principal, terms.nominal_rate_bp, accrued_days)?;
    let mut interest_to_come = Money::ZERO;
    for line in &schedule {
        if due_date(terms.start, line.month)? > settlement_date {
            interest_to_come = interest_to_come.checked_add(line.interest)?;
        }
    }
    let remaining_interest = interest_to_come.checked_sub(accrued)?.max(Money::ZERO);
    let year_after = settlement_date.checked_add_months(Months::new(SHORT_REMAINING_MONTHS))?;
    let more_than_a_year_left = terms.end > year_after;
    let (rule, compensation_at_rate, compensation) = match terms.financing {
        Financing::ConsumerCredit => {
            let rate_bp = if more_than_a_year_left {
                CONSUMER_CREDIT_CAP_BP
            } else {
                CONSUMER_CREDIT_SHORT_CAP_BP
            };
            let at_rate = percentage(remaining_principal, rate_bp)?;
            let limited_by_interest = remaining_interest < at_rate;
            (
                Compensation::StatutoryCap {
                    rate_bp,
                    limited_by_interest,
                },
                at_rate,
                at_rate.min(remaining_interest),
            )
        }
        Financing::FinancialLease => {
            let rate_bp = FINANCIAL_LEASE_COMPENSATION_BP;
            let at_rate = percentage(remaining_principal, rate_bp)?;
            (Compensation::Contractual { rate_bp }, at_rate, at_rate)
        }
    };
    let total = Money::try_sum([remaining_principal, accrued, unpaid_invoices, compensation])?;
    Some(Quote {
        settlement_date,
        last_instalment: last,
        remaining_principal,
        accrued_from,
        accrued_days,
        accrued_interest: accrued,
        unpaid_invoices,
        more_than_a_year_left,
        remaining_interest,
        compensation_at_rate,
        compensation,
        rule,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finance::annuity_instalment;
    use proptest::prelude::*;

    fn eur(cents: i64) -> Money {
        Money::from_cents(cents)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn terms(financing: Financing, principal: i64, balloon: i64, bp: u32, months: u32) -> Terms {
        let start = date(2024, 1, 1);
        Terms {
            financing,
            principal: eur(principal),
            balloon: eur(balloon),
            nominal_rate_bp: bp,
            months,
            instalment: annuity_instalment(eur(principal), eur(balloon), bp, months).unwrap(),
            start,
            end: start.checked_add_months(Months::new(months)).unwrap(),
        }
    }

    // SRV-05: €10,000 at 5 % over 36 months from 1 January 2024, settled on
    // 12 March 2025: 15 instalments are due (the last on 1 March), 11 days
    // of interest have accrued, more than a year remains, so 1 %.
    #[test]
    fn consumer_credit_example() {
        let t = terms(Financing::ConsumerCredit, 1_000_000, 0, 500, 36);
        let schedule = t.schedule().unwrap();
        let q = quote(&t, date(2025, 3, 12), eur(12_345)).unwrap();
        assert_eq!(q.last_instalment, Some((15, date(2025, 3, 1))));
        assert_eq!(q.remaining_principal, schedule[14].remaining);
        assert_eq!(q.accrued_from, date(2025, 3, 1));
        assert_eq!(q.accrued_days, 11);
        let expected_accrued = (i128::from(q.remaining_principal.cents()) * 500 * 11 * 2
            + 10_000 * 365)
            / (2 * 10_000 * 365);
        assert_eq!(i128::from(q.accrued_interest.cents()), expected_accrued);
        assert!(q.more_than_a_year_left);
        assert_eq!(
            q.rule,
            Compensation::StatutoryCap {
                rate_bp: 100,
                limited_by_interest: false
            }
        );
        assert_eq!(
            q.compensation.cents(),
            (q.remaining_principal.cents() + 50) / 100
        );
        let future: i64 = schedule[15..].iter().map(|l| l.interest.cents()).sum();
        assert_eq!(
            q.remaining_interest.cents(),
            future - q.accrued_interest.cents()
        );
        assert_eq!(
            q.total.cents(),
            q.remaining_principal.cents()
                + q.accrued_interest.cents()
                + 12_345
                + q.compensation.cents()
        );
    }

    // SRV-05, Directive 2008/48/EC Art. 16(2): 0.5 % with a year or less
    // left; exactly twelve months is "not more than a year".
    #[test]
    fn half_percent_with_a_year_or_less_left() {
        let t = terms(Financing::ConsumerCredit, 2_000_000, 0, 800, 48);
        // The agreed end is 2028-01-01.
        let exactly_a_year = quote(&t, date(2027, 1, 1), Money::ZERO).unwrap();
        assert!(!exactly_a_year.more_than_a_year_left);
        assert_eq!(exactly_a_year.rule.rate_bp(), 50);
        let a_day_more = quote(&t, date(2026, 12, 31), Money::ZERO).unwrap();
        assert!(a_day_more.more_than_a_year_left);
        assert_eq!(a_day_more.rule.rate_bp(), 100);
        assert_eq!(
            exactly_a_year.compensation_at_rate,
            percentage(exactly_a_year.remaining_principal, 50).unwrap()
        );
    }

    // SRV-05, Art. 16(2): never more than the interest still to come — at a
    // low rate near the end, 0.5 % of the principal exceeds it.
    #[test]
    fn never_more_than_the_interest_still_to_come() {
        let t = terms(Financing::ConsumerCredit, 1_000_000, 0, 100, 24);
        // Settled the day the 23rd instalment is due: one month of interest
        // (1 % a year on about €420) is left, far below 0.5 % of it.
        let q = quote(&t, date(2025, 11, 1), Money::ZERO).unwrap();
        assert_eq!(q.accrued_days, 0);
        assert_eq!(q.rule.rate_bp(), 50);
        assert!(q.remaining_interest < q.compensation_at_rate, "{q:?}");
        assert_eq!(q.compensation, q.remaining_interest);
        assert_eq!(
            q.rule,
            Compensation::StatutoryCap {
                rate_bp: 50,
                limited_by_interest: true
            }
        );
        // Interest-free credit: no compensation at all.
        let free = terms(Financing::ConsumerCredit, 600_000, 0, 0, 12);
        let q = quote(&free, date(2024, 3, 15), Money::ZERO).unwrap();
        assert_eq!(
            (q.accrued_interest, q.compensation),
            (Money::ZERO, Money::ZERO)
        );
        assert_eq!(q.total, q.remaining_principal);
    }

    // SRV-05: a financial lease pays the contractual 2 %, also on the
    // residual value, and no interest cap applies.
    #[test]
    fn financial_lease_contractual_two_percent() {
        let t = terms(Financing::FinancialLease, 3_000_000, 900_000, 600, 48);
        let q = quote(&t, date(2027, 6, 20), eur(-1_000)).unwrap();
        assert_eq!(q.rule, Compensation::Contractual { rate_bp: 200 });
        assert!(
            q.remaining_principal > eur(900_000),
            "the balloon is still owed"
        );
        assert_eq!(
            q.compensation,
            percentage(q.remaining_principal, 200).unwrap()
        );
        assert_eq!(q.accrued_from, date(2027, 6, 1));
        assert_eq!(q.accrued_days, 19);
        assert_eq!(
            q.total,
            Money::try_sum([
                q.remaining_principal,
                q.accrued_interest,
                eur(-1_000),
                q.compensation
            ])
            .unwrap()
        );
    }

    // Rounding is half away from zero, in integers.
    #[test]
    fn rounding_half_away_from_zero() {
        // 100 000 cents × 365 bp × 1 day / 3 650 000 = 10 cents exactly.
        assert_eq!(accrued_interest(eur(100_000), 365, 1), Some(eur(10)));
        // 5 cents × 1 % = 0.05 cent → 0; 50 cents × 1 % = 0.5 → 1.
        assert_eq!(percentage(eur(5), 100), Some(eur(0)));
        assert_eq!(percentage(eur(50), 100), Some(eur(1)));
        assert_eq!(percentage(eur(149), 100), Some(eur(1)));
        assert_eq!(percentage(eur(150), 100), Some(eur(2)));
        // 73 000 cents × 500 bp × 1 day / 3 650 000 = 10 cents; × 0.5 → 5.
        assert_eq!(accrued_interest(eur(36_500), 500, 1), Some(eur(5)));
        assert_eq!(accrued_interest(eur(3_650), 1, 1), Some(eur(0)));
    }

    // A settlement date before the start, or past the end.
    #[test]
    fn edges() {
        let t = terms(Financing::ConsumerCredit, 1_000_000, 0, 500, 12);
        assert_eq!(quote(&t, date(2023, 12, 31), Money::ZERO), None);
        let on_start = quote(&t, date(2024, 1, 1), Money::ZERO).unwrap();
        assert_eq!(on_start.last_instalment, Some((1, date(2024, 1, 1))));
        let after_end = quote(&t, date(2025, 6, 1), Money::ZERO).unwrap();
        assert_eq!(after_end.remaining_principal, Money::ZERO);
        assert_eq!(after_end.total, Money::ZERO);
    }

    proptest! {
        // SRV-05, Art. 16(2): for any consumer credit and settlement date the
        // compensation never exceeds the cap (0.5 % with ≤ 12 months left,
        // 1 % otherwise) nor the interest still to come, and the total adds up.
        #[test]
        fn consumer_credit_cap_is_never_exceeded(
            p in 100_000i64..1_000_000_000,
            bp in 0u32..2_000,
            n in 6u32..=96,
            days in 0i64..3_000,
            unpaid in 0i64..500_000,
        ) {
            let t = terms(Financing::ConsumerCredit, p, 0, bp, n);
            let on = t.start + chrono::Duration::days(days);
            let q = quote(&t, on, eur(unpaid)).unwrap();
            let months_left_over_12 = t.end > on.checked_add_months(Months::new(12)).unwrap();
            let cap_bp = if months_left_over_12 { 100 } else { 50 };
            prop_assert_eq!(q.rule.rate_bp(), cap_bp);
            // The cap on the exact amount (no rounding in the customer's disfavour beyond half a cent).
            prop_assert!(i128::from(q.compensation.cents()) * 10_000
                <= i128::from(q.remaining_principal.cents()) * i128::from(cap_bp) + 5_000);
            prop_assert!(q.compensation <= q.remaining_interest);
            prop_assert!(q.compensation >= Money::ZERO);
            prop_assert!(q.accrued_interest >= Money::ZERO);
            prop_assert_eq!(q.accrued_days, (on - q.accrued_from).num_days());
            prop_assert!((0..=31).contains(&q.accrued_days) || q.remaining_principal == Money::ZERO);
            prop_assert_eq!(
                q.remaining_principal,
                remaining_on(t.principal, t.start, &t.schedule().unwrap(), on)
            );
            prop_assert_eq!(
                q.total.cents(),
                q.remaining_principal.cents() + q.accrued_interest.cents() + unpaid + q.compensation.cents()
            );
        }

        // SRV-05: a financial lease always pays exactly 2 % of the principal
        // repaid, and the total adds up.
        #[test]
        fn financial_lease_is_two_percent(
            p in 100_000i64..1_000_000_000,
            balloon_pct in 0i64..40,
            bp in 0u32..2_000,
            n in 12u32..=72,
            days in 0i64..2_500,
        ) {
            let t = terms(Financing::FinancialLease, p, p * balloon_pct / 100, bp, n);
            let on = t.start + chrono::Duration::days(days);
            let q = quote(&t, on, Money::ZERO).unwrap();
            let exact = i128::from(q.remaining_principal.cents()) * 200;
            prop_assert!((i128::from(q.compensation.cents()) * 10_000 - exact).abs() <= 5_000);
            prop_assert_eq!(
                q.total.cents(),
                q.remaining_principal.cents() + q.accrued_interest.cents() + q.compensation.cents()
            );
        }
    }
}
