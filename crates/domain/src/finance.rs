//! Contract maths in integer cents (CON-01, CON-05): annuity instalments,
//! repayment schedules (aflossingsschema) and the annual percentage rate
//! (APR, JKP).
//!
//! No floating point: rates are basis points (1 bp = 0.01 %) and every
//! intermediate is an `i128` fixed-point number scaled by 10¹⁸, so results
//! are the same on every machine. Rounding to the cent is half away from
//! zero throughout.

use crate::money::div_round_half_away;
use crate::Money;
use serde::{Deserialize, Serialize};

/// Fixed-point scale: 1.0 is `SCALE`.
const SCALE: i128 = 1_000_000_000_000_000_000;
/// Basis points per unit of yearly rate, times 12 months: a nominal yearly
/// rate of `bp` basis points is a monthly rate of `bp / 120 000`.
const MONTHLY_BP_DENOMINATOR: i128 = 120_000;

/// The longest term the functions accept, in months (100 years).
pub const MAX_MONTHS: u32 = 1_200;

/// One month of a repayment schedule (CON-05).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleLine {
    /// The month, from 1.
    pub month: u32,
    /// The amount due this month: `interest + principal`.
    pub instalment: Money,
    /// The interest part.
    pub interest: Money,
    /// The repayment part.
    pub principal: Money,
    /// The debt remaining after this month's payment.
    pub remaining: Money,
}

/// `(q^n, Σ_{k=0}^{n-1} q^k)` scaled by [`SCALE`], with `q = 1 + bp/120 000`
/// the monthly growth factor. The sum is built term by term rather than as
/// `(q^n − 1)/r`, which would lose precision to cancellation at low rates.
fn growth(nominal_rate_bp: u32, months: u32) -> Option<(i128, i128)> {
    let factor = MONTHLY_BP_DENOMINATOR + i128::from(nominal_rate_bp);
    let mut power = SCALE;
    let mut sum: i128 = 0;
    for _ in 0..months {
        sum = sum.checked_add(power)?;
        power = div_round_half_away(power.checked_mul(factor)?, MONTHLY_BP_DENOMINATOR)?;
    }
    Some((power, sum))
}

fn valid_term(months: u32) -> bool {
    (1..=MAX_MONTHS).contains(&months)
}

/// The monthly instalment, paid in arrears, that repays `principal` over
/// `months` at the nominal yearly rate `nominal_rate_bp` (monthly rate =
/// yearly / 12), with `balloon` due on top of the last instalment.
///
/// `instalment = (principal·qⁿ − balloon) / Σ_{k=0}^{n−1} qᵏ`, i.e. the
/// balloon's present value is subtracted from the principal; at a zero
/// rate this is the straight line `(principal − balloon) / months`. The
/// exact quotient is rounded to the cent half away from zero (fixed-point
/// error is below 10⁻⁸ cent, so only a true tie at exactly half a cent could
/// round either way). Because of that rounding the last instalment differs
/// by a few cents; [`amortization_schedule`] makes it exact.
///
/// `None` for a term outside 1..=[`MAX_MONTHS`], a negative principal or
/// balloon, a balloon too large to leave a non-negative instalment, or
/// overflow.
pub fn annuity_instalment(
    principal: Money,
    balloon: Money,
    nominal_rate_bp: u32,
    months: u32,
) -> Option<Money> {
    if !valid_term(months) || principal.is_negative() || balloon.is_negative() {
        return None;
    }
    let p = i128::from(principal.cents());
    let b = i128::from(balloon.cents());
    let (numerator, denominator) = if nominal_rate_bp == 0 {
        (p - b, i128::from(months))
    } else {
        let (power, sum) = growth(nominal_rate_bp, months)?;
        (
            p.checked_mul(power)?.checked_sub(b.checked_mul(SCALE)?)?,
            sum,
        )
    };
    if numerator < 0 {
        return None;
    }
    Money::from_i128(div_round_half_away(numerator, denominator)?)
}

/// The repayment schedule (aflossingsschema, CON-05) for a loan of
/// `principal` at `nominal_rate_bp` over `months`, paying `instalment` each
/// month.
///
/// Each month's interest is the remaining debt × rate / 12, rounded to the
/// cent half away from zero; the rest of the instalment repays principal.
/// The last line absorbs all rounding and pays the balloon: its principal is
/// whatever remains (the `balloon` plus a few cents of rounding) and its
/// instalment is that plus its interest, so the debt ends at exactly zero.
///
/// `None` for a term outside 1..=[`MAX_MONTHS`], negative amounts, or
/// overflow.
pub fn amortization_schedule(
    principal: Money,
    balloon: Money,
    nominal_rate_bp: u32,
    months: u32,
    instalment: Money,
) -> Option<Vec<ScheduleLine>> {
    if !valid_term(months)
        || principal.is_negative()
        || balloon.is_negative()
        || instalment.is_negative()
    {
        return None;
    }
    let rate = i128::from(nominal_rate_bp);
    let mut remaining = principal;
    let mut lines = Vec::with_capacity(usize::try_from(months).ok()?);
    for month in 1..=months {
        let interest = Money::from_i128(div_round_half_away(
            i128::from(remaining.cents()).checked_mul(rate)?,
            MONTHLY_BP_DENOMINATOR,
        )?)?;
        let (due, repaid) = if month == months {
            (remaining.checked_add(interest)?, remaining)
        } else {
            (instalment, instalment.checked_sub(interest)?)
        };
        remaining = remaining.checked_sub(repaid)?;
        lines.push(ScheduleLine {
            month,
            instalment: due,
            interest,
            principal: repaid,
            remaining,
        });
    }
    Some(lines)
}

/// The annual percentage rate (APR; JKP) in basis points, per the Consumer
/// Credit Directive (2008/48/EC, Annex I): the effective yearly rate `X`
/// at which the credit actually received (`principal − upfront_fees`, at
/// time 0) equals the present value of the `months` instalments (paid at the
/// end of each month, time k/12 years) plus the `balloon` with the last one,
/// each discounted by `(1 + X)^(−t)`.
///
/// Solved by bisection on the monthly rate `j = (1 + X)^(1/12) − 1` in
/// fixed point to 10⁻¹⁸, then `X = (1 + j)¹² − 1` is rounded to the basis
/// point (half up).
///
/// `None` for a term outside 1..=[`MAX_MONTHS`], negative amounts, fees that
/// leave no credit, payments that do not even repay the credit (a negative
/// APR), an APR above roughly 10 000 %, or overflow.
pub fn apr_bp(
    principal: Money,
    instalment: Money,
    months: u32,
    balloon: Money,
    upfront_fees: Money,
) -> Option<u32> {
    if !valid_term(months)
        || instalment.is_negative()
        || balloon.is_negative()
        || upfront_fees.is_negative()
    {
        return None;
    }
    let credit = i128::from(principal.cents()) - i128::from(upfront_fees.cents());
    if credit <= 0 {
        return None;
    }
    let payment = i128::from(instalment.cents());
    let balloon = i128::from(balloon.cents());
    let target = credit.checked_mul(SCALE)?;
    // Present value of the payments at monthly rate j, scaled by SCALE.
    let present_value = |j: i128| -> Option<i128> {
        let discount = div_round_half_away(SCALE * SCALE, SCALE + j)?;
        let mut factor = SCALE;
        let mut sum: i128 = 0;
        for _ in 0..months {
            factor = div_round_half_away(factor.checked_mul(discount)?, SCALE)?;
            sum = sum.checked_add(factor)?;
        }
        payment
            .checked_mul(sum)?
            .checked_add(balloon.checked_mul(factor)?)
    };
    if present_value(0)? < target {
        return None;
    }
    // 47 % a month ≈ 10 000 % a year keeps (1 + j)¹² within i128.
    let (mut low, mut high) = (0i128, SCALE * 47 / 100);
    if present_value(high)? >= target {
        return None;
    }
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if present_value(mid)? >= target {
            low = mid;
        } else {
            high = mid;
        }
    }
    let mut yearly = SCALE;
    for _ in 0..12 {
        yearly = div_round_half_away(yearly.checked_mul(SCALE + low)?, SCALE)?;
    }
    let bp = div_round_half_away((yearly - SCALE).checked_mul(10_000)?, SCALE)?;
    u32::try_from(bp).ok()
}

/// The due date of schedule month `month` (from 1) of a contract starting
/// on `start`: instalments fall due monthly from the start date on (month 1
/// on the start date itself), as the invoices are issued. `None` past the
/// calendar's range.
pub fn due_date(start: chrono::NaiveDate, month: u32) -> Option<chrono::NaiveDate> {
    start.checked_add_months(chrono::Months::new(month.checked_sub(1)?))
}

/// The remaining debt of a schedule on `date`: what is left after every
/// instalment due on or before `date` (the full principal before the first).
pub fn remaining_on(
    principal: Money,
    start: chrono::NaiveDate,
    schedule: &[ScheduleLine],
    date: chrono::NaiveDate,
) -> Money {
    schedule
        .iter()
        .take_while(|line| due_date(start, line.month).is_some_and(|due| due <= date))
        .last()
        .map_or(principal, |line| line.remaining)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur(cents: i64) -> Money {
        Money::from_cents(cents)
    }

    /// Floating-point reference, for tests only.
    fn annuity_f64(p: i64, b: i64, bp: u32, n: u32) -> f64 {
        let r = f64::from(bp) / 120_000.0;
        if bp == 0 {
            return (p - b) as f64 / f64::from(n);
        }
        let q = (1.0 + r).powi(n as i32);
        (p as f64 * q - b as f64) * r / (q - 1.0)
    }

    // CON-01: textbook annuity: €10,000 over 36 months at 5 % → €299.71.
    #[test]
    fn textbook_annuity() {
        assert_eq!(
            annuity_instalment(eur(1_000_000), eur(0), 500, 36),
            Some(eur(29_971))
        );
        assert_eq!(
            annuity_instalment(eur(100_000), eur(0), 1_200, 12),
            Some(eur(8_885))
        );
        assert_eq!(
            annuity_instalment(eur(2_500_000), eur(1_000_000), 699, 60),
            Some(eur(35_520))
        );
    }

    // CON-01: the balloon's present value is subtracted; 35426.50046 cents
    // rounds up, which a sloppy computation would get wrong.
    #[test]
    fn balloon_and_near_tie() {
        assert_eq!(
            annuity_instalment(eur(2_000_000), eur(500_000), 390, 48),
            Some(eur(35_427))
        );
    }

    // CON-01: zero rate is straight-line, rounded half away from zero.
    #[test]
    fn zero_rate_is_straight_line() {
        assert_eq!(
            annuity_instalment(eur(1_000_000), eur(0), 0, 36),
            Some(eur(27_778))
        );
        assert_eq!(annuity_instalment(eur(1_001), eur(0), 0, 2), Some(eur(501)));
        assert_eq!(
            annuity_instalment(eur(1_000_000), eur(400_000), 0, 12),
            Some(eur(50_000))
        );
    }

    #[test]
    fn refuses_invalid_inputs() {
        assert_eq!(annuity_instalment(eur(1_000), eur(0), 500, 0), None);
        assert_eq!(
            annuity_instalment(eur(1_000), eur(0), 500, MAX_MONTHS + 1),
            None
        );
        assert_eq!(annuity_instalment(eur(-1_000), eur(0), 500, 12), None);
        assert_eq!(annuity_instalment(eur(1_000), eur(-1), 500, 12), None);
        assert_eq!(annuity_instalment(eur(1_000), eur(2_000), 0, 12), None);
        assert!(annuity_instalment(eur(1_000_000), eur(0), 1_000_000, 1_200).is_none());
    }

    // CON-05: 0 % over 36 months: 35 × €277.78 and a last line of €277.70.
    #[test]
    fn schedule_last_line_absorbs_rounding() {
        let lines = amortization_schedule(eur(1_000_000), eur(0), 0, 36, eur(27_778)).unwrap();
        assert_eq!(lines.len(), 36);
        assert!(lines[..35]
            .iter()
            .all(|l| l.instalment == eur(27_778) && l.interest == Money::ZERO));
        let last = lines[35];
        assert_eq!(
            (last.month, last.instalment, last.principal, last.remaining),
            (36, eur(27_770), eur(27_770), Money::ZERO)
        );
    }

    // CON-05: €10,000 at 5 % over 36 months.
    #[test]
    fn schedule_with_interest() {
        let lines = amortization_schedule(eur(1_000_000), eur(0), 500, 36, eur(29_971)).unwrap();
        // First month: 10 000 × 5 % / 12 = €41.67 interest.
        assert_eq!(
            lines[0],
            ScheduleLine {
                month: 1,
                instalment: eur(29_971),
                interest: eur(4_167),
                principal: eur(25_804),
                remaining: eur(974_196)
            }
        );
        let last = lines[35];
        assert_eq!(last.remaining, Money::ZERO);
        assert!((last.instalment.cents() - 29_971).abs() <= 5, "{last:?}");
        let repaid = Money::try_sum(lines.iter().map(|l| l.principal)).unwrap();
        assert_eq!(repaid, eur(1_000_000));
    }

    // CON-05: the balloon is paid with the final line.
    #[test]
    fn schedule_with_balloon() {
        let instalment = annuity_instalment(eur(2_000_000), eur(500_000), 390, 48).unwrap();
        let lines =
            amortization_schedule(eur(2_000_000), eur(500_000), 390, 48, instalment).unwrap();
        assert!(lines[46].remaining > eur(500_000));
        let last = lines[47];
        assert_eq!(last.remaining, Money::ZERO);
        assert!(
            (last.instalment.cents() - (instalment.cents() + 500_000)).abs() <= 48,
            "{last:?}"
        );
        assert_eq!(amortization_schedule(eur(1), eur(0), 0, 0, eur(1)), None);
        assert_eq!(amortization_schedule(eur(1), eur(0), 0, 1, eur(-1)), None);
    }

    // CON-01: APR (JKP) per the Consumer Credit Directive.
    #[test]
    fn apr_examples() {
        // 5 % nominal is 5.116 % effective.
        assert_eq!(
            apr_bp(eur(1_000_000), eur(29_971), 36, eur(0), eur(0)),
            Some(512)
        );
        // 12 % nominal (1 % a month) is 12.68 % effective.
        assert_eq!(
            apr_bp(eur(100_000), eur(8_885), 12, eur(0), eur(0)),
            Some(1_269)
        );
        // €200 upfront fees raise it.
        assert_eq!(
            apr_bp(eur(1_000_000), eur(29_971), 36, eur(0), eur(20_000)),
            Some(654)
        );
        // With a balloon: 3.9 % nominal ≈ 3.97 % effective.
        assert_eq!(
            apr_bp(eur(2_000_000), eur(35_427), 48, eur(500_000), eur(0)),
            Some(397)
        );
        // Interest-free.
        assert_eq!(apr_bp(eur(1_200), eur(100), 12, eur(0), eur(0)), Some(0));
    }

    #[test]
    fn apr_refuses_invalid_inputs() {
        assert_eq!(apr_bp(eur(1_200), eur(99), 12, eur(0), eur(0)), None); // negative APR
        assert_eq!(apr_bp(eur(1_200), eur(100), 12, eur(0), eur(1_200)), None); // no credit
        assert_eq!(apr_bp(eur(1_200), eur(100), 0, eur(0), eur(0)), None);
        assert_eq!(apr_bp(eur(1_200), eur(-100), 12, eur(0), eur(0)), None);
        assert_eq!(apr_bp(eur(100), eur(100), 12, eur(0), eur(0)), None); // absurdly high
    }

    proptest! {
        // CON-01: agrees with the floating-point formula to the cent.
        #[test]
        fn annuity_matches_reference(p in 100_000i64..10_000_000_000, balloon_pct in 0i64..50, bp in 0u32..2_500, n in 1u32..=120) {
            let b = p * balloon_pct / 100;
            let exact = annuity_f64(p, b, bp, n);
            let got = annuity_instalment(eur(p), eur(b), bp, n).unwrap().cents() as f64;
            prop_assert!((got - exact).abs() <= 0.500_001, "{got} vs {exact}");
        }

        // CON-05: the schedule repays exactly the principal and ends at zero.
        #[test]
        fn schedule_balances(p in 100_000i64..100_000_000, balloon_pct in 0i64..50, bp in 0u32..2_500, n in 1u32..=120) {
            let b = p * balloon_pct / 100;
            let instalment = annuity_instalment(eur(p), eur(b), bp, n).unwrap();
            let lines = amortization_schedule(eur(p), eur(b), bp, n, instalment).unwrap();
            prop_assert_eq!(lines.len(), n as usize);
            prop_assert_eq!(lines[lines.len() - 1].remaining, Money::ZERO);
            prop_assert_eq!(Money::try_sum(lines.iter().map(|l| l.principal)), Some(eur(p)));
            for l in &lines {
                prop_assert_eq!(l.interest.checked_add(l.principal), Some(l.instalment));
            }
            // Half a cent of instalment rounding and half a cent of interest
            // rounding a month, compounded: at most Σ qᵏ ≤ n·qⁿ cents.
            let last = lines[lines.len() - 1].instalment.cents();
            let bound = f64::from(n) * (1.0 + f64::from(bp) / 120_000.0).powi(n as i32);
            prop_assert!(((last - instalment.cents() - b) as f64).abs() <= bound, "{} vs {}", last, bound);
        }

        // CON-01: without fees the APR is the effective rate of the nominal one.
        #[test]
        fn apr_is_effective_nominal_rate(p in 1_000_000i64..100_000_000, bp in 1u32..2_000, n in 12u32..=120) {
            let instalment = annuity_instalment(eur(p), Money::ZERO, bp, n).unwrap();
            let apr = apr_bp(eur(p), instalment, n, Money::ZERO, Money::ZERO).unwrap();
            let effective = ((1.0 + f64::from(bp) / 120_000.0).powi(12) - 1.0) * 10_000.0;
            prop_assert!((f64::from(apr) - effective).abs() <= 1.0, "{apr} vs {effective}");
        }
    }
}
