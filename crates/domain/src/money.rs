//! Money: integer euro cents, never floating point (CON-03).

use crate::Language;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// U+202F NARROW NO-BREAK SPACE: the French thousands separator.
pub const NARROW_NO_BREAK_SPACE: char = '\u{202F}';
/// U+00A0 NO-BREAK SPACE: between a French amount and the `€` sign.
pub const NO_BREAK_SPACE: char = '\u{00A0}';

/// An amount of euros held as a signed number of cents (EUR is implied).
///
/// Arithmetic is checked only (`checked_*`, [`Money::try_sum`]): there is no
/// `Add`/`Sub` impl, so an overflow can never panic or wrap silently.
/// Serialized as the integer number of cents.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money {
    cents: i64,
}

/// Why a user-entered amount was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Nothing was entered.
    #[error("no amount entered")]
    Empty,
    /// Characters that do not belong in an amount, or a misplaced sign or
    /// decimal separator.
    #[error("not an amount")]
    Invalid,
    /// Thousands separators in the wrong place (`1.23` in Dutch) or mixed.
    #[error("misplaced thousands separator")]
    Grouping,
    /// More than two decimals.
    #[error("more than two decimals")]
    TooManyDecimals,
    /// Too large to represent.
    #[error("amount too large")]
    Overflow,
}

error_codes!(MoneyError {
    MoneyError::Empty => "money.empty",
    MoneyError::Invalid => "money.invalid",
    MoneyError::Grouping => "money.grouping",
    MoneyError::TooManyDecimals => "money.too_many_decimals",
    MoneyError::Overflow => "money.overflow",
});

impl Money {
    /// Zero euros.
    pub const ZERO: Money = Money { cents: 0 };

    /// An amount of `cents` euro cents.
    pub const fn from_cents(cents: i64) -> Money {
        Money { cents }
    }

    /// Zero euros.
    pub const fn zero() -> Money {
        Money::ZERO
    }

    /// The amount in cents.
    pub const fn cents(self) -> i64 {
        self.cents
    }

    /// Whether the amount is below zero.
    pub const fn is_negative(self) -> bool {
        self.cents < 0
    }

    /// Whether the amount is zero.
    pub const fn is_zero(self) -> bool {
        self.cents == 0
    }

    /// Whether the amount is above zero.
    pub const fn is_positive(self) -> bool {
        self.cents > 0
    }

    /// The absolute value; `None` only for the most negative representable
    /// amount.
    pub fn checked_abs(self) -> Option<Money> {
        self.cents.checked_abs().map(Money::from_cents)
    }

    /// The negated amount; `None` on overflow.
    pub fn checked_neg(self) -> Option<Money> {
        self.cents.checked_neg().map(Money::from_cents)
    }

    /// `self + other`; `None` on overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.cents.checked_add(other.cents).map(Money::from_cents)
    }

    /// `self - other`; `None` on overflow.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.cents.checked_sub(other.cents).map(Money::from_cents)
    }

    /// `self × factor`; `None` on overflow.
    pub fn checked_mul_int(self, factor: i64) -> Option<Money> {
        self.cents.checked_mul(factor).map(Money::from_cents)
    }

    /// The sum of `amounts`; `None` on overflow (the checked replacement for
    /// `Sum`).
    pub fn try_sum<I: IntoIterator<Item = Money>>(amounts: I) -> Option<Money> {
        amounts
            .into_iter()
            .try_fold(Money::ZERO, |acc, amount| acc.checked_add(amount))
    }

    /// `bp` basis points of this amount (1 bp = 0.01 %, so 10 000 bp = 100 %),
    /// rounded to the cent half away from zero; `None` on overflow.
    pub fn percentage_bp(self, bp: i64) -> Option<Money> {
        let product = i128::from(self.cents).checked_mul(i128::from(bp))?;
        Money::from_i128(div_round_half_away(product, 10_000)?)
    }

    /// Converts an `i128` number of cents, if it fits.
    pub(crate) fn from_i128(cents: i128) -> Option<Money> {
        i64::try_from(cents).ok().map(Money::from_cents)
    }

    /// Parses an amount typed by a user reading `language`:
    ///
    /// * `nl`, `fr`: decimal comma, thousands separated by `.` or a space
    ///   (also no-break and narrow no-break spaces): `1.234,56`, `1234,56`,
    ///   `1 234,56 €`, `€ 1.234,56`, `1234`, `12,-`;
    /// * `en`: decimal point, thousands separated by `,`: `€1,234.56`.
    ///
    /// An optional `€` or `EUR` before or after and a leading `-` (also
    /// before or after the `€`) are allowed. Thousands separators must sit
    /// every three digits (so `1.23` is refused in Dutch rather than read as
    /// 123); more than two decimals, other characters and amounts beyond
    /// `i64` cents are refused.
    pub fn parse(input: &str, language: Language) -> Result<Money, MoneyError> {
        match language {
            Language::Nl | Language::Fr => parse_amount(
                input,
                ',',
                &['.', ' ', NO_BREAK_SPACE, NARROW_NO_BREAK_SPACE, '\u{2009}'],
                true,
            ),
            Language::En => parse_amount(input, '.', &[','], false),
        }
    }

    /// The canonical machine form: optional `-`, euros, `.`, two decimals,
    /// without thousands separators (`-1234.56`, `0.05`). [`FromStr`] reads
    /// it back.
    pub fn to_decimal_string(self) -> String {
        let sign = if self.is_negative() { "-" } else { "" };
        let abs = self.cents.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// The amount as a reader of `language` expects it:
    ///
    /// * `nl`: `€ 1.234,56`, negative `€ -1.234,56`;
    /// * `fr`: `1 234,56 €`, negative `-1 234,56 €`, with U+202F NARROW
    ///   NO-BREAK SPACE between thousands and U+00A0 NO-BREAK SPACE before
    ///   `€` (the typographic convention; neither breaks across lines);
    /// * `en`: `€1,234.56`, negative `-€1,234.56`.
    pub fn format(self, language: Language) -> String {
        let sign = if self.is_negative() { "-" } else { "" };
        let abs = self.cents.unsigned_abs();
        let (euros, cents) = (abs / 100, abs % 100);
        match language {
            Language::Nl => format!("€ {sign}{},{cents:02}", group_thousands(euros, ".")),
            Language::Fr => format!(
                "{sign}{},{cents:02}{NO_BREAK_SPACE}€",
                group_thousands(euros, &NARROW_NO_BREAK_SPACE.to_string())
            ),
            Language::En => format!("{sign}€{}.{cents:02}", group_thousands(euros, ",")),
        }
    }
}

/// Divides rounding half away from zero; `None` for a zero divisor or
/// overflow.
pub(crate) fn div_round_half_away(numerator: i128, denominator: i128) -> Option<i128> {
    let quotient = numerator.checked_div(denominator)?;
    let remainder = numerator.checked_rem(denominator)?;
    if remainder.unsigned_abs() * 2 >= denominator.unsigned_abs() {
        let away = if (numerator < 0) == (denominator < 0) {
            1
        } else {
            -1
        };
        quotient.checked_add(away)
    } else {
        Some(quotient)
    }
}

fn group_thousands(value: u64, separator: &str) -> String {
    crate::checks::group(&value.to_string(), 3, separator, true)
}

/// The shared amount grammar; see [`Money::parse`].
fn parse_amount(
    input: &str,
    decimal: char,
    group_separators: &[char],
    allow_dash_decimals: bool,
) -> Result<Money, MoneyError> {
    let mut rest = input.trim();
    if rest.is_empty() {
        return Err(MoneyError::Empty);
    }
    let mut negative = false;
    let mut currency = false;
    loop {
        if let Some(r) = rest.strip_prefix(['-', '\u{2212}']).filter(|_| !negative) {
            negative = true;
            rest = r.trim_start();
        } else if let Some(r) = strip_currency_prefix(rest).filter(|_| !currency) {
            currency = true;
            rest = r.trim_start();
        } else {
            break;
        }
    }
    if !currency {
        if let Some(r) = strip_currency_suffix(rest) {
            rest = r.trim_end();
        }
    }
    if rest.is_empty() {
        return Err(MoneyError::Invalid);
    }
    if allow_dash_decimals {
        if let Some(r) = rest.strip_suffix(",--").or_else(|| rest.strip_suffix(",-")) {
            rest = r;
        }
    }

    let mut parts = rest.split(decimal);
    let integer = parts.next().unwrap_or("");
    let fraction = parts.next();
    if parts.next().is_some() {
        return Err(MoneyError::Invalid);
    }
    let fraction_cents: i64 = match fraction {
        None => 0,
        Some(f) if !crate::checks::is_digits(f) => return Err(MoneyError::Invalid),
        Some(f) if f.len() > 2 => return Err(MoneyError::TooManyDecimals),
        Some(f) => {
            // One or two digits: "5" means 50 cents, "05" five.
            let value = f
                .bytes()
                .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
            if f.len() == 1 {
                value * 10
            } else {
                value
            }
        }
    };
    let digits = integer_digits(integer, fraction.is_some(), group_separators)?;
    let mut euros: i64 = 0;
    for b in digits.bytes() {
        euros = euros
            .checked_mul(10)
            .and_then(|e| e.checked_add(i64::from(b - b'0')))
            .ok_or(MoneyError::Overflow)?;
    }
    let cents = euros
        .checked_mul(100)
        .and_then(|c| c.checked_add(fraction_cents))
        .ok_or(MoneyError::Overflow)?;
    Ok(Money::from_cents(if negative { -cents } else { cents }))
}

fn strip_currency_prefix(s: &str) -> Option<&str> {
    s.strip_prefix('€').or_else(|| {
        s.get(..3)
            .filter(|p| p.eq_ignore_ascii_case("EUR"))
            .and_then(|_| s.get(3..))
    })
}

fn strip_currency_suffix(s: &str) -> Option<&str> {
    s.strip_suffix('€').or_else(|| {
        let start = s.len().checked_sub(3)?;
        s.get(start..)
            .filter(|p| p.eq_ignore_ascii_case("EUR"))
            .and_then(|_| s.get(..start))
    })
}

/// Checks the integer part (digits, optionally grouped by threes with one
/// kind of separator; all kinds of space count as one kind) and returns its
/// digits. It may be empty only when a fraction follows (`,50`).
fn integer_digits(
    integer: &str,
    has_fraction: bool,
    group_separators: &[char],
) -> Result<String, MoneyError> {
    if integer.is_empty() {
        return if has_fraction {
            Ok(String::new())
        } else {
            Err(MoneyError::Invalid)
        };
    }
    let is_space = |c: char| c.is_whitespace();
    let mut separator_kind: Option<bool> = None; // Some(true) = a space
    let mut groups: Vec<&str> = Vec::new();
    let mut start = 0;
    for (i, c) in integer.char_indices() {
        if c.is_ascii_digit() {
            continue;
        }
        if !group_separators.contains(&c) {
            return Err(MoneyError::Invalid);
        }
        match separator_kind {
            None => separator_kind = Some(is_space(c)),
            Some(kind) if kind != is_space(c) => return Err(MoneyError::Grouping),
            Some(_) => {}
        }
        groups.push(&integer[start..i]);
        start = i + c.len_utf8();
    }
    groups.push(&integer[start..]);
    if groups.len() > 1 {
        let first_ok = (1..=3).contains(&groups[0].len());
        let rest_ok = groups[1..].iter().all(|g| g.len() == 3);
        if !first_ok || !rest_ok {
            return Err(MoneyError::Grouping);
        }
    }
    Ok(groups.concat())
}

impl fmt::Display for Money {
    /// The Dutch (default language) form, `€ 1.234,56`; use
    /// [`Money::format`] for the reader's language.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format(Language::default()))
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    /// Reads the canonical form of [`Money::to_decimal_string`]
    /// (`-1234.56`): a decimal point and no thousands separators.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_amount(s, '.', &[], false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur(cents: i64) -> Money {
        Money::from_cents(cents)
    }

    // CON-03: Dutch and French input with decimal comma and grouping dots.
    #[test]
    fn parses_dutch_and_french_forms() {
        for lang in [Language::Nl, Language::Fr] {
            assert_eq!(Money::parse("1.234,56", lang), Ok(eur(123_456)));
            assert_eq!(Money::parse("1234,56", lang), Ok(eur(123_456)));
            assert_eq!(Money::parse("1234", lang), Ok(eur(123_400)));
            assert_eq!(Money::parse("€ 1.234,56", lang), Ok(eur(123_456)));
            assert_eq!(Money::parse("€1.234,5", lang), Ok(eur(123_450)));
            assert_eq!(Money::parse("1 234,56 €", lang), Ok(eur(123_456)));
            assert_eq!(
                Money::parse("1\u{202f}234,56\u{a0}€", lang),
                Ok(eur(123_456))
            );
            assert_eq!(Money::parse("-1.234,56", lang), Ok(eur(-123_456)));
            assert_eq!(Money::parse("€ -1.234,56", lang), Ok(eur(-123_456)));
            assert_eq!(Money::parse("12,-", lang), Ok(eur(1_200)));
            assert_eq!(Money::parse(",50", lang), Ok(eur(50)));
            assert_eq!(Money::parse("EUR 10", lang), Ok(eur(1_000)));
            assert_eq!(Money::parse("1.000.000", lang), Ok(eur(100_000_000)));
        }
    }

    // CON-03: English input with grouping commas and a decimal point.
    #[test]
    fn parses_english_forms() {
        assert_eq!(Money::parse("€1,234.56", Language::En), Ok(eur(123_456)));
        assert_eq!(Money::parse("-€1,234.56", Language::En), Ok(eur(-123_456)));
        assert_eq!(Money::parse("1234.5", Language::En), Ok(eur(123_450)));
        assert_eq!(
            Money::parse("1,234,567", Language::En),
            Ok(eur(123_456_700))
        );
        assert_eq!(
            Money::parse("1.234,56", Language::En),
            Err(MoneyError::Invalid)
        );
    }

    // CON-03: one test per rule, starting with empty input.
    #[test]
    fn refuses_empty() {
        assert_eq!(Money::parse("  ", Language::Nl), Err(MoneyError::Empty));
    }

    // CON-03
    #[test]
    fn refuses_garbage() {
        for s in [
            "abc",
            "12a",
            "1,2,3",
            "€",
            "--5",
            "1.234,56,7",
            "€ € 5",
            "+5",
            "1e3",
        ] {
            assert_eq!(
                Money::parse(s, Language::Nl),
                Err(MoneyError::Invalid),
                "{s}"
            );
        }
    }

    // CON-03
    #[test]
    fn refuses_misplaced_grouping() {
        assert_eq!(
            Money::parse("1.23", Language::Nl),
            Err(MoneyError::Grouping)
        );
        assert_eq!(
            Money::parse("1234.567", Language::Nl),
            Err(MoneyError::Grouping)
        );
        assert_eq!(
            Money::parse("1.234 567", Language::Fr),
            Err(MoneyError::Grouping)
        );
        assert_eq!(
            Money::parse("1,23", Language::En),
            Err(MoneyError::Grouping)
        );
    }

    // CON-03
    #[test]
    fn refuses_more_than_two_decimals() {
        assert_eq!(
            Money::parse("1,234", Language::Nl),
            Err(MoneyError::TooManyDecimals)
        );
        assert_eq!(
            Money::parse("1.999", Language::En),
            Err(MoneyError::TooManyDecimals)
        );
    }

    // CON-03
    #[test]
    fn refuses_overflow() {
        assert_eq!(
            Money::parse("92233720368547758,08", Language::Nl),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::parse("92233720368547758,07", Language::Nl),
            Ok(eur(i64::MAX))
        );
        assert_eq!(MoneyError::Overflow.code(), "money.overflow");
    }

    // CON-03: shown in the reader's locale.
    #[test]
    fn formats_per_language() {
        let m = eur(123_456);
        assert_eq!(m.format(Language::Nl), "€ 1.234,56");
        assert_eq!(eur(-123_456).format(Language::Nl), "€ -1.234,56");
        assert_eq!(m.format(Language::Fr), "1\u{202f}234,56\u{a0}€");
        assert_eq!(
            eur(-123_456).format(Language::Fr),
            "-1\u{202f}234,56\u{a0}€"
        );
        assert_eq!(m.format(Language::En), "€1,234.56");
        assert_eq!(eur(-123_456).format(Language::En), "-€1,234.56");
        assert_eq!(eur(5).format(Language::Nl), "€ 0,05");
        assert_eq!(eur(100_000_000).format(Language::En), "€1,000,000.00");
        assert_eq!(m.to_string(), "€ 1.234,56");
        assert_eq!(eur(i64::MIN).to_decimal_string(), "-92233720368547758.08");
        assert_eq!(eur(-5).to_decimal_string(), "-0.05");
        assert_eq!("-0.05".parse::<Money>(), Ok(eur(-5)));
    }

    // CON-03
    #[test]
    fn checked_arithmetic() {
        assert_eq!(eur(1).checked_add(eur(2)), Some(eur(3)));
        assert_eq!(eur(i64::MAX).checked_add(eur(1)), None);
        assert_eq!(eur(i64::MIN).checked_sub(eur(1)), None);
        assert_eq!(eur(250).checked_mul_int(3), Some(eur(750)));
        assert_eq!(eur(i64::MAX).checked_mul_int(2), None);
        assert_eq!(eur(-7).checked_abs(), Some(eur(7)));
        assert_eq!(eur(i64::MIN).checked_abs(), None);
        assert_eq!(Money::try_sum([eur(1), eur(2), eur(3)]), Some(eur(6)));
        assert_eq!(Money::try_sum([eur(i64::MAX), eur(1)]), None);
        assert_eq!(Money::try_sum([]), Some(Money::zero()));
        assert!(eur(-1) < eur(0));
        assert!(eur(-1).is_negative() && eur(1).is_positive() && Money::ZERO.is_zero());
    }

    // CON-03
    #[test]
    fn percentage_rounds_half_away_from_zero() {
        // 2.5 % of €10.10 = 25.25 cents → 25; of €10.20 = 25.5 → 26.
        assert_eq!(eur(1_010).percentage_bp(250), Some(eur(25)));
        assert_eq!(eur(1_020).percentage_bp(250), Some(eur(26)));
        assert_eq!(eur(-1_020).percentage_bp(250), Some(eur(-26)));
        assert_eq!(eur(123_456).percentage_bp(10_000), Some(eur(123_456)));
        assert_eq!(eur(i64::MAX).percentage_bp(20_000), None);
        assert_eq!(div_round_half_away(-5, 2), Some(-3));
        assert_eq!(div_round_half_away(5, -2), Some(-3));
        assert_eq!(div_round_half_away(1, 0), None);
    }

    proptest! {
        // CON-03: whatever we show, we can read back.
        #[test]
        fn format_parse_round_trip(cents in (i64::MIN + 1)..=i64::MAX) {
            let m = eur(cents);
            for lang in Language::ALL {
                prop_assert_eq!(Money::parse(&m.format(lang), lang), Ok(m));
            }
            prop_assert_eq!(m.to_decimal_string().parse::<Money>(), Ok(m));
        }

        // CON-03
        #[test]
        fn parse_never_panics(s in "\\PC*") {
            for lang in Language::ALL {
                let _ = Money::parse(&s, lang);
            }
            let _ = s.parse::<Money>();
        }

        #[test]
        fn parse_never_panics_on_amount_like_input(s in "[-€ .,0-9EUR\u{a0}\u{202f}]{0,30}") {
            for lang in Language::ALL {
                let _ = Money::parse(&s, lang);
            }
        }
    }
}
