//! Business-day calendar for the Netherlands and Belgium.
//!
//! Used to book customer payments "after N working days" (PAY-03) and for
//! service-level timers that count office hours (BOF-02). Pure: no clock, no
//! I/O; every date is passed in.
//!
//! A *working day* is Monday to Friday and not a public holiday of the
//! contract's country. Weekends are never working days. The public holidays
//! below are the days on which the lessor does not book payments (banks and
//! the lessor's back office are closed):
//!
//! | Country | Holiday | Date | Key |
//! |---|---|---|---|
//! | NL | Nieuwjaarsdag | 1 January | `holiday.new_year` |
//! | NL | Goede Vrijdag | Easter − 2 (banks and TARGET2 closed) | `holiday.good_friday` |
//! | NL | Tweede Paasdag | Easter + 1 | `holiday.easter_monday` |
//! | NL | Koningsdag | 27 April, or 26 April when 27 April is a Sunday | `holiday.kings_day` |
//! | NL | Bevrijdingsdag | 5 May, only in lustrum years (year divisible by 5, as in collective agreements) | `holiday.liberation_day` |
//! | NL | Hemelvaartsdag | Easter + 39 | `holiday.ascension` |
//! | NL | Tweede Pinksterdag | Easter + 50 | `holiday.whit_monday` |
//! | NL | Eerste Kerstdag | 25 December | `holiday.christmas` |
//! | NL | Tweede Kerstdag | 26 December | `holiday.boxing_day` |
//! | BE | Nieuwjaar | 1 January | `holiday.new_year` |
//! | BE | Paasmaandag | Easter + 1 | `holiday.easter_monday` |
//! | BE | Dag van de Arbeid | 1 May | `holiday.labour_day` |
//! | BE | O.L.H. Hemelvaart | Easter + 39 | `holiday.ascension` |
//! | BE | Pinkstermaandag | Easter + 50 | `holiday.whit_monday` |
//! | BE | Nationale feestdag | 21 July | `holiday.national_day` |
//! | BE | O.L.V. Hemelvaart | 15 August | `holiday.assumption` |
//! | BE | Allerheiligen | 1 November | `holiday.all_saints` |
//! | BE | Wapenstilstand | 11 November | `holiday.armistice` |
//! | BE | Kerstmis | 25 December | `holiday.christmas` |
//!
//! Easter Sunday and Whit Sunday are *not* listed: they are Sundays, so they
//! are never working days anyway. A holiday falling on a weekend is not moved
//! to another day (the Belgian employer's replacement day does not close the
//! banks). Good Friday is a working day in Belgium. Today's rules are applied
//! to every year (no historical rules such as Koninginnedag on 30 April
//! before 2014). Two holidays can share a date (NL: Ascension Day on 5 May
//! 2005; BE: Ascension Day on 1 May 2008); [`holidays`] then lists both and
//! [`holiday_on`] returns the first in the table order above.
//!
//! Office-time functions work on local wall-clock [`NaiveDateTime`]s: a day
//! with a daylight-saving change still counts its nominal office hours (the
//! changes happen at night, outside office hours).
//!
//! Dates follow chrono's proleptic Gregorian calendar. Results that would lie
//! beyond chrono's last date saturate at [`NaiveDate::MAX`] /
//! [`NaiveDateTime::MAX`], which callers can read as "never".

use crate::Country;
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Weekday};

/// A public holiday: its date and a stable message key such as
/// `"holiday.kings_day"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holiday {
    /// The day of the holiday.
    pub date: NaiveDate,
    /// Stable message key naming the holiday, e.g. `"holiday.kings_day"`.
    pub key: &'static str,
}

/// The largest number of working days [`add_working_days`] counts (about
/// 3,900 years). Larger requests return [`NaiveDate::MAX`] ("never"); the cap
/// bounds the work to a few thousand year steps.
pub const MAX_WORKING_DAYS: u32 = 1_000_000;

/// Every year has at least this many working days (52 weeks of 5 weekdays,
/// minus at most 10 holidays); bounds the year loop of [`add_working_days`].
const MIN_WORKING_DAYS_PER_YEAR: u32 = 250;

/// More consecutive non-working days than this cannot occur (the longest run
/// is a four-day Easter weekend); bounds the search for the next working day.
const MAX_NON_WORKING_RUN: u32 = 14;

/// Easter Sunday of a Gregorian year (anonymous Gregorian / Meeus
/// algorithm), in chrono's proleptic Gregorian calendar. `None` only when the
/// date lies outside chrono's range.
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let y = i64::from(year);
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let n = h + l - 7 * m + 114;
    let month = u32::try_from(n / 31).ok()?;
    let day = u32::try_from(n % 31 + 1).ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

/// The public holidays of `country` in `year`, sorted by date (see the module
/// documentation for the list). Coinciding holidays are both listed.
pub fn holidays(country: Country, year: i32) -> Vec<Holiday> {
    let mut out = Vec::with_capacity(10);
    let mut fixed = |month: u32, day: u32, key: &'static str| {
        if let Some(date) = NaiveDate::from_ymd_opt(year, month, day) {
            out.push(Holiday { date, key });
        }
    };
    let easter = easter_sunday(year);
    let from_easter =
        |offset: i64| easter.and_then(|e| e.checked_add_signed(TimeDelta::try_days(offset)?));
    match country {
        Country::Nl => {
            fixed(1, 1, "holiday.new_year");
            let kings_day = NaiveDate::from_ymd_opt(year, 4, 27).map(|day| {
                if day.weekday() == Weekday::Sun {
                    NaiveDate::from_ymd_opt(year, 4, 26).unwrap_or(day)
                } else {
                    day
                }
            });
            if year.rem_euclid(5) == 0 {
                fixed(5, 5, "holiday.liberation_day");
            }
            fixed(12, 25, "holiday.christmas");
            fixed(12, 26, "holiday.boxing_day");
            let moving = [
                (from_easter(-2), "holiday.good_friday"),
                (from_easter(1), "holiday.easter_monday"),
                (kings_day, "holiday.kings_day"),
                (from_easter(39), "holiday.ascension"),
                (from_easter(50), "holiday.whit_monday"),
            ];
            for (date, key) in moving {
                if let Some(date) = date {
                    out.push(Holiday { date, key });
                }
            }
        }
        Country::Be => {
            fixed(1, 1, "holiday.new_year");
            fixed(5, 1, "holiday.labour_day");
            fixed(7, 21, "holiday.national_day");
            fixed(8, 15, "holiday.assumption");
            fixed(11, 1, "holiday.all_saints");
            fixed(11, 11, "holiday.armistice");
            fixed(12, 25, "holiday.christmas");
            let moving = [
                (from_easter(1), "holiday.easter_monday"),
                (from_easter(39), "holiday.ascension"),
                (from_easter(50), "holiday.whit_monday"),
            ];
            for (date, key) in moving {
                if let Some(date) = date {
                    out.push(Holiday { date, key });
                }
            }
        }
    }
    // Coinciding holidays are ordered as in the module documentation's table.
    out.sort_by_key(|holiday| (holiday.date, table_rank(holiday.key)));
    out
}

/// Position of a key in the module documentation's table, to order
/// coinciding holidays deterministically.
fn table_rank(key: &str) -> usize {
    const ORDER: [&str; 14] = [
        "holiday.new_year",
        "holiday.good_friday",
        "holiday.easter_monday",
        "holiday.kings_day",
        "holiday.liberation_day",
        "holiday.labour_day",
        "holiday.ascension",
        "holiday.whit_monday",
        "holiday.national_day",
        "holiday.assumption",
        "holiday.all_saints",
        "holiday.armistice",
        "holiday.christmas",
        "holiday.boxing_day",
    ];
    ORDER.iter().position(|k| *k == key).unwrap_or(ORDER.len())
}

/// The holiday on `date` in `country`, if any (the first one when two
/// coincide).
pub fn holiday_on(country: Country, date: NaiveDate) -> Option<Holiday> {
    holidays(country, date.year())
        .into_iter()
        .find(|holiday| holiday.date == date)
}

/// Monday to Friday and not a public holiday.
pub fn is_working_day(country: Country, date: NaiveDate) -> bool {
    is_weekday(date) && holiday_on(country, date).is_none()
}

fn is_weekday(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Working-day test against a precomputed holiday list of the date's year.
fn is_working_with(year_holidays: &[Holiday], date: NaiveDate) -> bool {
    is_weekday(date) && !year_holidays.iter().any(|holiday| holiday.date == date)
}

/// Weekdays among the days numbered `[1, n)` by `num_days_from_ce` (day 1,
/// 0001-01-01, is a Monday); also right for `n <= 1`, so differences count
/// weekdays in any range in O(1).
fn weekdays_before(n: i64) -> i64 {
    let z = n - 1;
    5 * z.div_euclid(7) + z.rem_euclid(7).min(5)
}

/// Weekdays in the half-open range `(from, to]`, i.e. the days numbered
/// `[from + 1, to + 1)`.
fn weekdays_between(from: NaiveDate, to: NaiveDate) -> i64 {
    weekdays_before(i64::from(to.num_days_from_ce()) + 1)
        - weekdays_before(i64::from(from.num_days_from_ce()) + 1)
}

/// The first working day on or after `date` ([`NaiveDate::MAX`] if none is
/// representable).
fn first_working_day_from(country: Country, date: NaiveDate) -> NaiveDate {
    let mut day = date;
    let mut year = day.year();
    let mut year_holidays = holidays(country, year);
    for _ in 0..=MAX_NON_WORKING_RUN {
        if day.year() != year {
            year = day.year();
            year_holidays = holidays(country, year);
        }
        if is_working_with(&year_holidays, day) {
            return day;
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    NaiveDate::MAX
}

/// The `days`-th working day after `date` (`date` itself not counted).
/// `days = 0`: `date` if it is a working day, else the next working day.
///
/// Runs in O(years spanned): whole years are skipped by counting, and at most
/// one year is walked day by day. `days` above [`MAX_WORKING_DAYS`], or a
/// result beyond chrono's last date, gives [`NaiveDate::MAX`].
pub fn add_working_days(country: Country, date: NaiveDate, days: u32) -> NaiveDate {
    if days == 0 {
        return first_working_day_from(country, date);
    }
    if days > MAX_WORKING_DAYS {
        return NaiveDate::MAX;
    }
    let mut remaining = days;
    let mut cursor = date;
    // Every pass but the first and the last consumes a whole calendar year
    // (>= 250 working days), so this bound is never reached.
    for _ in 0..=(MAX_WORKING_DAYS / MIN_WORKING_DAYS_PER_YEAR + 2) {
        let Some(first) = cursor.succ_opt() else {
            return NaiveDate::MAX;
        };
        let year = first.year();
        let year_end = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(NaiveDate::MAX);
        let ahead = working_days_between(country, cursor, year_end);
        if remaining > ahead {
            remaining -= ahead;
            cursor = year_end;
            continue;
        }
        // The answer lies in (cursor, year_end]: walk at most one year.
        let year_holidays = holidays(country, year);
        let mut day = cursor;
        while day < year_end {
            let Some(next) = day.succ_opt() else {
                break;
            };
            day = next;
            if is_working_with(&year_holidays, day) {
                remaining -= 1;
                if remaining == 0 {
                    return day;
                }
            }
        }
        return NaiveDate::MAX;
    }
    NaiveDate::MAX
}

/// Working days in the half-open range `(from, to]`: how many working days
/// after `from` up to and including `to`; 0 if `to <= from`.
///
/// Runs in O(years spanned): weekdays are counted arithmetically and the
/// holidays of each year subtracted.
pub fn working_days_between(country: Country, from: NaiveDate, to: NaiveDate) -> u32 {
    if to <= from {
        return 0;
    }
    let weekdays = weekdays_between(from, to);
    let mut closed = 0i64;
    for year in from.year()..=to.year() {
        let mut previous: Option<NaiveDate> = None;
        for holiday in holidays(country, year) {
            let date = holiday.date;
            if previous == Some(date) {
                continue; // coinciding holidays close the day once
            }
            previous = Some(date);
            if date > from && date <= to && is_weekday(date) {
                closed += 1;
            }
        }
    }
    u32::try_from(weekdays - closed).unwrap_or(0)
}

/// Office hours on working days, local time (e.g. 08:30–17:30). Hours with
/// `close <= open` contain no office time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfficeHours {
    /// Opening time.
    pub open: NaiveTime,
    /// Closing time (exclusive end of office time).
    pub close: NaiveTime,
}

impl OfficeHours {
    /// Seconds of office time on one working day (0 if `close <= open`).
    pub fn seconds_per_day(self) -> i64 {
        (self.close - self.open).num_seconds().max(0)
    }
}

/// Office seconds on `date` within `[lo, hi)`.
fn office_overlap(
    country: Country,
    hours: OfficeHours,
    date: NaiveDate,
    lo: NaiveDateTime,
    hi: NaiveDateTime,
) -> i64 {
    if !is_working_day(country, date) {
        return 0;
    }
    let begin = lo.max(date.and_time(hours.open));
    let end = hi.min(date.and_time(hours.close));
    (end - begin).num_seconds().max(0)
}

/// Seconds of office time between two local date-times (0 if
/// `end <= start`): only the parts on working days within office hours count.
///
/// Runs in O(years spanned).
pub fn working_seconds_between(
    country: Country,
    hours: OfficeHours,
    start: NaiveDateTime,
    end: NaiveDateTime,
) -> i64 {
    let per_day = hours.seconds_per_day();
    if end <= start || per_day == 0 {
        return 0;
    }
    let (first, last) = (start.date(), end.date());
    if first == last {
        return office_overlap(country, hours, first, start, end);
    }
    let full_days = i64::from(working_days_between(country, first, last))
        - i64::from(is_working_day(country, last));
    office_overlap(country, hours, first, start, end)
        + full_days * per_day
        + office_overlap(country, hours, last, start, end)
}

/// The local date-time at which `seconds` of office time have passed after
/// `start` (a start outside office hours begins counting at the next
/// opening).
///
/// Precisely: the earliest `t >= start` with
/// `working_seconds_between(country, hours, start, t) == seconds`, so time
/// that runs out at closing time gives the closing time, not the next
/// opening. `seconds <= 0` gives `start`. Hours without office time, or a
/// result beyond [`MAX_WORKING_DAYS`] working days, give
/// [`NaiveDateTime::MAX`] ("never").
pub fn add_working_seconds(
    country: Country,
    hours: OfficeHours,
    start: NaiveDateTime,
    seconds: i64,
) -> NaiveDateTime {
    if seconds <= 0 {
        return start;
    }
    let per_day = hours.seconds_per_day();
    if per_day == 0 {
        return NaiveDateTime::MAX;
    }
    let today = start.date();
    let mut remaining = seconds;
    if is_working_day(country, today) && start.time() < hours.close {
        let begin = start.max(today.and_time(hours.open));
        let available = (today.and_time(hours.close) - begin).num_seconds();
        if remaining <= available {
            return add_seconds(begin, remaining);
        }
        remaining -= available;
    }
    // `full` whole office days, then `rest` (1..=per_day) on the next one.
    let full = (remaining - 1) / per_day;
    let rest = remaining - full * per_day;
    let Some(days) = u32::try_from(full + 1)
        .ok()
        .filter(|days| *days <= MAX_WORKING_DAYS)
    else {
        return NaiveDateTime::MAX;
    };
    let day = add_working_days(country, today, days);
    if day == NaiveDate::MAX {
        return NaiveDateTime::MAX;
    }
    add_seconds(day.and_time(hours.open), rest)
}

fn add_seconds(at: NaiveDateTime, seconds: i64) -> NaiveDateTime {
    TimeDelta::try_seconds(seconds)
        .and_then(|delta| at.checked_add_signed(delta))
        .unwrap_or(NaiveDateTime::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        date(y, m, d).and_hms_opt(h, min, 0).unwrap()
    }

    fn office() -> OfficeHours {
        OfficeHours {
            open: NaiveTime::from_hms_opt(8, 30, 0).unwrap(),
            close: NaiveTime::from_hms_opt(17, 30, 0).unwrap(),
        }
    }

    fn listed(country: Country, year: i32) -> Vec<(NaiveDate, &'static str)> {
        holidays(country, year)
            .into_iter()
            .map(|h| (h.date, h.key))
            .collect()
    }

    /// Day-by-day reference for working_days_between.
    fn brute_working_days(country: Country, from: NaiveDate, to: NaiveDate) -> u32 {
        from.iter_days()
            .skip(1)
            .take_while(|d| *d <= to)
            .filter(|d| is_working_day(country, *d))
            .count() as u32
    }

    #[test]
    fn easter_sunday_known_years() {
        for (year, m, d) in [
            (1818, 3, 22),
            (1943, 4, 25),
            (2000, 4, 23),
            (2019, 4, 21),
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2038, 4, 25),
            (2285, 3, 22),
        ] {
            assert_eq!(easter_sunday(year), Some(date(year, m, d)), "{year}");
        }
        assert_eq!(easter_sunday(i32::MAX), None);
    }

    #[test]
    fn easter_is_always_a_sunday_between_22_march_and_25_april() {
        for year in 1583..=4100 {
            let easter = easter_sunday(year).unwrap();
            assert_eq!(easter.weekday(), Weekday::Sun, "{year}");
            assert!(
                easter >= date(year, 3, 22) && easter <= date(year, 4, 25),
                "{year}"
            );
        }
    }

    // PAY-03: no payments are booked on Dutch public holidays.
    #[test]
    fn netherlands_2026() {
        assert_eq!(
            listed(Country::Nl, 2026),
            vec![
                (date(2026, 1, 1), "holiday.new_year"),
                (date(2026, 4, 3), "holiday.good_friday"),
                (date(2026, 4, 6), "holiday.easter_monday"),
                (date(2026, 4, 27), "holiday.kings_day"),
                (date(2026, 5, 14), "holiday.ascension"),
                (date(2026, 5, 25), "holiday.whit_monday"),
                (date(2026, 12, 25), "holiday.christmas"),
                (date(2026, 12, 26), "holiday.boxing_day"),
            ]
        );
    }

    // PAY-03: no payments are booked on Belgian public holidays.
    #[test]
    fn belgium_2026() {
        assert_eq!(
            listed(Country::Be, 2026),
            vec![
                (date(2026, 1, 1), "holiday.new_year"),
                (date(2026, 4, 6), "holiday.easter_monday"),
                (date(2026, 5, 1), "holiday.labour_day"),
                (date(2026, 5, 14), "holiday.ascension"),
                (date(2026, 5, 25), "holiday.whit_monday"),
                (date(2026, 7, 21), "holiday.national_day"),
                (date(2026, 8, 15), "holiday.assumption"),
                (date(2026, 11, 1), "holiday.all_saints"),
                (date(2026, 11, 11), "holiday.armistice"),
                (date(2026, 12, 25), "holiday.christmas"),
            ]
        );
    }

    // PAY-03: King's Day moves to Saturday 26 April when 27 April is a Sunday.
    #[test]
    fn kings_day_moves_off_sunday() {
        assert_eq!(date(2025, 4, 27).weekday(), Weekday::Sun);
        let kings = |year| {
            holidays(Country::Nl, year)
                .into_iter()
                .find(|h| h.key == "holiday.kings_day")
                .unwrap()
                .date
        };
        assert_eq!(kings(2025), date(2025, 4, 26));
        assert_eq!(kings(2026), date(2026, 4, 27));
        assert_eq!(holiday_on(Country::Nl, date(2025, 4, 27)), None);
        assert_eq!(holiday_on(Country::Be, date(2026, 4, 27)), None);
    }

    // PAY-03: Liberation Day closes only in lustrum years.
    #[test]
    fn liberation_day_only_in_lustrum_years() {
        let has = |year| holiday_on(Country::Nl, date(year, 5, 5)).map(|h| h.key);
        assert_eq!(has(2025), Some("holiday.liberation_day"));
        assert_eq!(has(2030), Some("holiday.liberation_day"));
        for year in [2026, 2027, 2028, 2029] {
            assert_eq!(has(year), None, "{year}");
        }
        // Monday 5 May 2025 is a holiday; Tuesday 5 May 2026 is not.
        assert!(!is_working_day(Country::Nl, date(2025, 5, 5)));
        assert!(is_working_day(Country::Nl, date(2026, 5, 5)));
        assert!(is_working_day(Country::Be, date(2025, 5, 5)));
    }

    #[test]
    fn coinciding_holidays_are_both_listed_and_counted_once() {
        // NL 2005: Ascension Day fell on Liberation Day (5 May).
        let nl = listed(Country::Nl, 2005);
        assert!(nl.contains(&(date(2005, 5, 5), "holiday.liberation_day")));
        assert!(nl.contains(&(date(2005, 5, 5), "holiday.ascension")));
        assert_eq!(
            holiday_on(Country::Nl, date(2005, 5, 5)).unwrap().key,
            "holiday.liberation_day"
        );
        // Wed 4 May 2005 -> Fri 6 May 2005: one working day (Friday).
        assert_eq!(
            working_days_between(Country::Nl, date(2005, 5, 4), date(2005, 5, 6)),
            1
        );
        // BE 2008: Ascension Day on Labour Day (1 May).
        assert_eq!(
            working_days_between(Country::Be, date(2008, 4, 30), date(2008, 5, 2)),
            1
        );
    }

    #[test]
    fn holidays_are_sorted_and_in_their_year() {
        for country in Country::ALL {
            for year in 1990..2110 {
                let list = holidays(country, year);
                assert!(list.windows(2).all(|w| w[0].date <= w[1].date));
                assert!(list.iter().all(|h| h.date.year() == year));
                assert!(list.iter().all(|h| h.key.starts_with("holiday.")));
            }
        }
    }

    // PAY-03: payments booked "after N working days" skip weekends.
    #[test]
    fn add_working_days_across_weekend() {
        // Friday 9 January 2026.
        let friday = date(2026, 1, 9);
        assert_eq!(friday.weekday(), Weekday::Fri);
        for country in Country::ALL {
            assert_eq!(add_working_days(country, friday, 1), date(2026, 1, 12));
            assert_eq!(add_working_days(country, friday, 5), date(2026, 1, 16));
            assert_eq!(add_working_days(country, friday, 0), friday);
            // Saturday + 0 and Saturday + 1 -> Monday; Saturday + 2 -> Tuesday.
            assert_eq!(
                add_working_days(country, date(2026, 1, 10), 0),
                date(2026, 1, 12)
            );
            assert_eq!(
                add_working_days(country, date(2026, 1, 10), 1),
                date(2026, 1, 12)
            );
            assert_eq!(
                add_working_days(country, date(2026, 1, 10), 2),
                date(2026, 1, 13)
            );
        }
    }

    // PAY-03: Easter 2026. NL: Good Friday 3 and Easter Monday 6 April closed;
    // BE: only Easter Monday closed.
    #[test]
    fn add_working_days_across_easter_2026() {
        let thursday = date(2026, 4, 2);
        assert_eq!(thursday.weekday(), Weekday::Thu);
        assert_eq!(add_working_days(Country::Nl, thursday, 1), date(2026, 4, 7));
        assert_eq!(add_working_days(Country::Nl, thursday, 2), date(2026, 4, 8));
        assert_eq!(add_working_days(Country::Be, thursday, 1), date(2026, 4, 3));
        assert_eq!(add_working_days(Country::Be, thursday, 2), date(2026, 4, 7));
        assert_eq!(
            add_working_days(Country::Nl, date(2026, 4, 3), 0),
            date(2026, 4, 7)
        );
        assert_eq!(
            add_working_days(Country::Be, date(2026, 4, 3), 0),
            date(2026, 4, 3)
        );
        assert_eq!(
            working_days_between(Country::Nl, thursday, date(2026, 4, 8)),
            2
        );
        assert_eq!(
            working_days_between(Country::Be, thursday, date(2026, 4, 8)),
            3
        );
    }

    // PAY-03: Christmas and New Year.
    #[test]
    fn add_working_days_across_christmas_and_new_year() {
        let christmas_eve = date(2025, 12, 24); // Wednesday
        assert_eq!(christmas_eve.weekday(), Weekday::Wed);
        // NL: Thu 25 and Fri 26 closed, weekend, Mon 29, Tue 30.
        assert_eq!(
            add_working_days(Country::Nl, christmas_eve, 2),
            date(2025, 12, 30)
        );
        // BE: Thu 25 closed, Fri 26 open, Mon 29.
        assert_eq!(
            add_working_days(Country::Be, christmas_eve, 2),
            date(2025, 12, 29)
        );
        // Over New Year: Wed 31 Dec, Thu 1 Jan closed, Fri 2 Jan.
        for country in Country::ALL {
            assert_eq!(
                add_working_days(country, date(2025, 12, 30), 2),
                date(2026, 1, 2)
            );
            assert_eq!(
                working_days_between(country, date(2025, 12, 30), date(2026, 1, 2)),
                2
            );
        }
        // NL working days 24 Dec 2025 -> 2 Jan 2026: 29, 30, 31 Dec, 2 Jan.
        assert_eq!(
            working_days_between(Country::Nl, christmas_eve, date(2026, 1, 2)),
            4
        );
    }

    #[test]
    fn working_days_in_a_year() {
        // NL 2026: 261 weekdays, 7 holidays on weekdays (26 Dec is a Saturday).
        assert_eq!(
            working_days_between(Country::Nl, date(2025, 12, 31), date(2026, 12, 31)),
            254
        );
        // BE 2026: 261 weekdays; 15 Aug (Sat) and 1 Nov (Sun) fall on weekends.
        assert_eq!(
            working_days_between(Country::Be, date(2025, 12, 31), date(2026, 12, 31)),
            253
        );
        assert_eq!(
            working_days_between(Country::Nl, date(2026, 5, 1), date(2026, 5, 1)),
            0
        );
        assert_eq!(
            working_days_between(Country::Nl, date(2026, 5, 2), date(2026, 5, 1)),
            0
        );
    }

    #[test]
    fn large_and_extreme_requests_are_bounded() {
        let start = date(2026, 1, 1);
        // A few thousand working days: fast and consistent.
        let far = add_working_days(Country::Nl, start, 5_000);
        assert_eq!(working_days_between(Country::Nl, start, far), 5_000);
        assert!(is_working_day(Country::Nl, far));
        let cap = add_working_days(Country::Be, start, MAX_WORKING_DAYS);
        assert_eq!(
            working_days_between(Country::Be, start, cap),
            MAX_WORKING_DAYS
        );
        assert_eq!(
            add_working_days(Country::Be, start, MAX_WORKING_DAYS + 1),
            NaiveDate::MAX
        );
        assert_eq!(
            add_working_days(Country::Nl, start, u32::MAX),
            NaiveDate::MAX
        );
        // Near the end of chrono's range: saturates instead of looping.
        assert_eq!(
            add_working_days(Country::Nl, NaiveDate::MAX, 1),
            NaiveDate::MAX
        );
        assert_eq!(
            add_working_seconds(Country::Nl, office(), at(2026, 1, 1, 9, 0), i64::MAX),
            NaiveDateTime::MAX
        );
        // Ten thousand years: 250 to 261 working days each.
        let span = working_days_between(Country::Nl, date(2000, 12, 31), date(12000, 12, 31));
        assert!((250 * 10_000..=261 * 10_000).contains(&span), "{span}");
        let first = add_working_days(Country::Be, NaiveDate::MIN, 1);
        assert_eq!(working_days_between(Country::Be, NaiveDate::MIN, first), 1);
    }

    // BOF-02: office time over a weekend.
    #[test]
    fn working_seconds_over_weekend() {
        // Fri 9 Jan 16:30 -> Mon 12 Jan 09:30: one hour each side.
        let s = working_seconds_between(
            Country::Nl,
            office(),
            at(2026, 1, 9, 16, 30),
            at(2026, 1, 12, 9, 30),
        );
        assert_eq!(s, 7_200);
    }

    // BOF-02: evenings and nights do not count.
    #[test]
    fn working_seconds_over_evening() {
        let s = working_seconds_between(
            Country::Be,
            office(),
            at(2026, 1, 13, 17, 0),
            at(2026, 1, 14, 9, 0),
        );
        assert_eq!(s, 3_600);
        // Entirely in the evening.
        let s = working_seconds_between(
            Country::Be,
            office(),
            at(2026, 1, 13, 18, 0),
            at(2026, 1, 13, 23, 0),
        );
        assert_eq!(s, 0);
        // Within one day.
        let s = working_seconds_between(
            Country::Be,
            office(),
            at(2026, 1, 13, 7, 0),
            at(2026, 1, 13, 12, 0),
        );
        assert_eq!(s, 3 * 3_600 + 1_800);
        assert_eq!(
            working_seconds_between(
                Country::Be,
                office(),
                at(2026, 1, 14, 9, 0),
                at(2026, 1, 13, 9, 0)
            ),
            0
        );
    }

    // BOF-02: public holidays do not count (NL Good Friday and Easter Monday).
    #[test]
    fn working_seconds_over_holiday() {
        let (from, to) = (at(2026, 4, 2, 17, 0), at(2026, 4, 7, 9, 0));
        assert_eq!(
            working_seconds_between(Country::Nl, office(), from, to),
            3_600
        );
        // BE: Good Friday is a full office day.
        assert_eq!(
            working_seconds_between(Country::Be, office(), from, to),
            3_600 + 9 * 3_600
        );
        assert_eq!(
            working_seconds_between(
                Country::Nl,
                office(),
                at(2026, 4, 6, 9, 0),
                at(2026, 4, 6, 12, 0)
            ),
            0
        );
    }

    // BOF-02: a timer started outside office hours starts at the next opening.
    #[test]
    fn add_working_seconds_from_outside_hours() {
        // Saturday noon + 1 h -> Monday 09:30.
        assert_eq!(
            add_working_seconds(Country::Nl, office(), at(2026, 1, 10, 12, 0), 3_600),
            at(2026, 1, 12, 9, 30)
        );
        // Tuesday 20:00 + 30 min -> Wednesday 09:00.
        assert_eq!(
            add_working_seconds(Country::Nl, office(), at(2026, 1, 13, 20, 0), 1_800),
            at(2026, 1, 14, 9, 0)
        );
        // Tuesday 07:00 + one office day -> Tuesday closing time.
        assert_eq!(
            add_working_seconds(Country::Nl, office(), at(2026, 1, 13, 7, 0), 9 * 3_600),
            at(2026, 1, 13, 17, 30)
        );
        // Thursday 2 April 2026 16:30 + 2 h: NL skips Good Friday to Easter Monday.
        assert_eq!(
            add_working_seconds(Country::Nl, office(), at(2026, 4, 2, 16, 30), 7_200),
            at(2026, 4, 7, 9, 30)
        );
        assert_eq!(
            add_working_seconds(Country::Be, office(), at(2026, 4, 2, 16, 30), 7_200),
            at(2026, 4, 3, 9, 30)
        );
        // Zero or negative: the start itself.
        assert_eq!(
            add_working_seconds(Country::Nl, office(), at(2026, 1, 10, 12, 0), 0),
            at(2026, 1, 10, 12, 0)
        );
        // No office time at all: never.
        let closed = OfficeHours {
            open: office().close,
            close: office().open,
        };
        assert_eq!(
            add_working_seconds(Country::Nl, closed, at(2026, 1, 13, 9, 0), 1),
            NaiveDateTime::MAX
        );
        assert_eq!(
            working_seconds_between(
                Country::Nl,
                closed,
                at(2026, 1, 13, 9, 0),
                at(2026, 1, 20, 9, 0)
            ),
            0
        );
    }

    fn any_date() -> impl Strategy<Value = NaiveDate> {
        (date(2000, 1, 1).num_days_from_ce()..date(2100, 12, 31).num_days_from_ce())
            .prop_map(|n| NaiveDate::from_num_days_from_ce_opt(n).unwrap())
    }

    fn any_country() -> impl Strategy<Value = Country> {
        prop_oneof![Just(Country::Nl), Just(Country::Be)]
    }

    fn any_datetime() -> impl Strategy<Value = NaiveDateTime> {
        (any_date(), 0u32..86_400).prop_map(|(d, s)| {
            d.and_time(NaiveTime::from_num_seconds_from_midnight_opt(s, 0).unwrap())
        })
    }

    proptest! {
        // PAY-03: counting back the working days of a booking date gives N.
        #[test]
        fn add_and_count_working_days_agree(country in any_country(), d in any_date(), n in 0u32..400) {
            let result = add_working_days(country, d, n);
            prop_assert!(result >= d);
            prop_assert!(is_working_day(country, result));
            if n > 0 {
                prop_assert_eq!(working_days_between(country, d, result), n);
                // And it is the first such day: the day before has one fewer.
                prop_assert_eq!(working_days_between(country, d, result.pred_opt().unwrap()), n - 1);
            } else {
                prop_assert_eq!(working_days_between(country, d, result), u32::from(!is_working_day(country, d)));
            }
        }

        // PAY-03: the O(1) weekday count matches a day-by-day count.
        #[test]
        fn working_days_between_matches_brute_force(country in any_country(), from in any_date(), len in 0i64..800) {
            let to = from + TimeDelta::days(len);
            prop_assert_eq!(working_days_between(country, from, to), brute_working_days(country, from, to));
        }

        // BOF-02: adding the office time between two instants lands at the
        // earliest instant with that much office time.
        #[test]
        fn add_working_seconds_inverts_working_seconds_between(
            country in any_country(),
            start in any_datetime(),
            seconds in 0i64..(400 * 9 * 3_600),
        ) {
            let end = add_working_seconds(country, office(), start, seconds);
            prop_assert!(end >= start);
            prop_assert_eq!(working_seconds_between(country, office(), start, end), seconds);
            if seconds > 0 {
                let earlier = end - TimeDelta::seconds(1);
                prop_assert_eq!(working_seconds_between(country, office(), start, earlier), seconds - 1);
            }
        }

        // BOF-02: and the other way round.
        #[test]
        fn working_seconds_between_then_add_stays_within_end(
            country in any_country(),
            start in any_datetime(),
            len in 0i64..(60 * 86_400),
        ) {
            let end = start + TimeDelta::seconds(len);
            let s = working_seconds_between(country, office(), start, end);
            prop_assert!(s >= 0 && s <= len);
            let back = add_working_seconds(country, office(), start, s);
            prop_assert!(back <= end);
            prop_assert_eq!(working_seconds_between(country, office(), start, back), s);
        }
    }
}
